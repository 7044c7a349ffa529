import { expect, test } from "bun:test";
import { PacketType } from "../../src/dtls/index.ts";
import { CstpType as TunnelCstpType } from "../../src/server/tunnel/index.ts";
import { CstpType } from "../../src/wire/cstp-types.ts";

test("the packet type values are ocserv's AC_PKT_* numbers", () => {
  expect({ ...CstpType }).toEqual({ DATA: 0, DPD_REQ: 3, DPD_RESP: 4, DISCONNECT: 5, KEEPALIVE: 7, COMPRESSED: 8, TERMINATE: 9 });
});

test("the DTLS framing and the TLS tunnel read the same table, so the two channels cannot disagree", () => {
  expect(PacketType).toBe(CstpType);
  expect(TunnelCstpType).toBe(CstpType);
});
