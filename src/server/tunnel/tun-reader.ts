// Reading a tun device into a Tunnel: packets in batches, into pooled buffers that keep CSTP_HEADER_LEN
// bytes of room in front, so the tunnel writes the CSTP header in place and sends without a copy
// (wireguard-go's offset). Used by the tunnel manager and by a privilege-separated worker.

import type { TunDevice } from "../../tun/device.ts";
import { CSTP_HEADER_LEN } from "./cstp.ts";
import type { Tunnel } from "./tunnel.ts";

/** Packets read from the tun per readiness callback. */
export const READ_BATCH = 32;

/**
 * Starts feeding `tunnel` from `device`. `packetSize` is the largest packet the tun may hand over (the
 * link MTU or more). A read error other than EAGAIN ends the tunnel as an error, after `onError`.
 */
export function pumpTun(device: TunDevice, tunnel: Tunnel, packetSize: number, onError: (e: unknown) => void): void {
  const bufs: Uint8Array[] = [];
  for (let i = 0; i < READ_BATCH; i++) bufs.push(new Uint8Array(CSTP_HEADER_LEN + packetSize));
  const sizes = new Int32Array(READ_BATCH);
  device.onReadable(() => {
    if (tunnel.ended) {
      device.pause();
      return;
    }
    let n: number;
    try {
      n = device.readBatch(bufs, sizes, CSTP_HEADER_LEN);
    } catch (e) {
      onError(e);
      tunnel.end("error");
      return;
    }
    for (let i = 0; i < n; i++) tunnel.fromTun(bufs[i]!, sizes[i]!);
    tunnel.afterTunBatch();
  });
}
