import { test, expect, describe } from "bun:test";
import { PacketType } from "../../src/dtls/index.ts";
import { establishedPsk as established } from "./harness.ts";


describe("MTU probes with a raise ceiling (protocol.md §4.4, ocserv data_mtu_set before the echo)", () => {
  test("a probe within the ceiling raises the data MTU and is echoed in full", () => {
    const p = established();
    p.handle.dataMtu = 100;
    p.handle.maxDataMtu = 1500;
    const probe = new Uint8Array(300).fill(7);
    const r = p.ep.handleDatagram(p.client.send(PacketType.DPD_REQ, probe), p.addr, p.port);
    expect(p.client.receive(r.sendTo[0]!.bytes).data).toEqual([{ type: PacketType.DPD_RESP, payload: probe }]);
    expect(p.handle.dataMtu).toBe(300);
    expect(r.events.map((e) => e.event)).toEqual([{ kind: "dpd", bytes: 300, probe: true }]);
  });

  test("a probe beyond the ceiling leaves the data MTU alone and gets a 1-byte answer", () => {
    const p = established();
    p.handle.dataMtu = 100;
    p.handle.maxDataMtu = 200;
    const r = p.ep.handleDatagram(p.client.send(PacketType.DPD_REQ, new Uint8Array(201)), p.addr, p.port);
    expect(p.client.receive(r.sendTo[0]!.bytes).data).toEqual([{ type: PacketType.DPD_RESP, payload: new Uint8Array(0) }]);
    expect(p.handle.dataMtu).toBe(100);
    expect(r.events.map((e) => e.event)).toEqual([{ kind: "dpd", bytes: 201, probe: true }]);
  });

  test("without a ceiling (the default) probes never raise the data MTU", () => {
    const p = established();
    expect(p.handle.maxDataMtu).toBe(0);
    p.handle.dataMtu = 100;
    p.ep.handleDatagram(p.client.send(PacketType.DPD_REQ, new Uint8Array(150)), p.addr, p.port);
    expect(p.handle.dataMtu).toBe(100);
  });
});
