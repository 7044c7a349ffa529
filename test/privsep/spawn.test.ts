import { test, expect, describe, afterAll } from "bun:test";
import { existsSync, writeFileSync, mkdtempSync, rmSync, openSync, closeSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnWorker, WorkerPool, type WorkerHandle } from "../../src/privsep/spawn.ts";
import { createKeyService } from "../../src/privsep/key-service.ts";
import { closeFd, lookupUser } from "../../src/privsep/libc.ts";
import { createBoundSocket } from "../../src/net/sockets.ts";
import { createLinuxTunFactory } from "../../src/tun/linux.ts";
import type { DropPlan } from "../../src/privsep/drop.ts";
import { ChannelError } from "../../src/privsep/channel.ts";
import { ecPrivateKey, generateRsaPkcs8, randomEcScalar, rsaPrivateKeyFromDer } from "../../src/crypto/keys.ts";
import { T } from "./fixtures/types.ts";

const FIXTURE = join(import.meta.dir, "fixtures", "worker.ts");
const enc = new TextEncoder();
const dec = new TextDecoder();
const nobody = lookupUser("nobody");
const asNobody: DropPlan = { uid: nobody.uid, gid: nobody.gid, chroot: null, dumpable: false };
const started: WorkerHandle[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const w of started) w.kill("SIGKILL");
  await Promise.all(started.map((w) => w.exited));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(plan: DropPlan, extra: Partial<Parameters<typeof spawnWorker>[0]> = {}): Promise<WorkerHandle> {
  const w = await spawnWorker({ command: [process.execPath, FIXTURE], plan, listenFds: [], keys: null, ...extra });
  started.push(w);
  return w;
}

async function ids(w: WorkerHandle) {
  return JSON.parse(dec.decode((await w.control.request(T.Ids, new Uint8Array(0), { timeoutMs: 10_000 })).body)) as {
    uid: number;
    euid: number;
    gid: number;
    groups: number[];
    dumpable: boolean;
    noNewPrivs: boolean;
    listenFds: number[];
  };
}

describe("spawnWorker", () => {
  test("the worker runs as nobody, without supplementary groups, not dumpable, with no_new_privs", async () => {
    const w = await start(asNobody);
    const got = await ids(w);
    expect(got.uid).toBe(65534);
    expect(got.euid).toBe(65534);
    expect(got.gid).toBe(nobody.gid);
    expect(got.groups.every((g) => g === nobody.gid)).toBe(true);
    expect(got.dumpable).toBe(false);
    expect(got.noNewPrivs).toBe(true);
  });

  test("the dropped worker cannot open /etc/shadow", async () => {
    const w = await start(asNobody);
    expect(dec.decode((await w.control.request(T.Open, enc.encode("/etc/shadow"))).body)).toBe("EACCES");
  });

  test("a root-only file passed as a descriptor is readable in the dropped worker, though its path is not", async () => {
    const dir = mkdtempSync(join(tmpdir(), "privsep-"));
    dirs.push(dir);
    const path = join(dir, "secret");
    writeFileSync(path, "tun-like fd contents");
    chmodSync(path, 0o600);
    chmodSync(dir, 0o700);
    const w = await start(asNobody);
    expect(dec.decode((await w.control.request(T.Open, enc.encode(path))).body)).toBe("EACCES");
    const fd = openSync(path, "r");
    const ans = await w.control.request(T.ReadFd, new Uint8Array(0), { fd });
    closeSync(fd);
    expect(dec.decode(ans.body)).toBe("tun-like fd contents");
  });

  test("a tun device opened by main is usable through its descriptor in the dropped worker, and vanishes after both close it", async () => {
    const tuns = createLinuxTunFactory({ readiness: "timer" });
    try {
      const dev = tuns.openTun("psep%d", { owner: nobody.uid, group: nobody.gid });
      const w = await start(asNobody);
      const ans = await w.control.request(T.TunName, new Uint8Array(0), { fd: dev.fd });
      expect(dec.decode(ans.body)).toBe(dev.name);
      expect(existsSync(`/sys/class/net/${dev.name}`)).toBe(true);
      dev.close();
      expect(existsSync(`/sys/class/net/${dev.name}`)).toBe(false);
    } finally {
      tuns.close();
    }
  });

  test("a chrooted worker no longer sees the host's files", async () => {
    const jail = mkdtempSync(join(tmpdir(), "privsep-jail-"));
    dirs.push(jail);
    writeFileSync(join(jail, "inside"), "x");
    chmodSync(jail, 0o755); // the worker (nobody) must be able to search its own root
    const w = await start({ ...asNobody, chroot: jail });
    expect(dec.decode((await w.control.request(T.Open, enc.encode("/etc/passwd"))).body)).toBe("ENOENT");
    expect(dec.decode((await w.control.request(T.Open, enc.encode("/inside"))).body)).toBe("ok");
  });

  test("-x keeps the worker dumpable", async () => {
    const w = await start({ ...asNobody, dumpable: true });
    expect((await ids(w)).dumpable).toBe(true);
  });

  test("listening sockets arrive as fds 6 and up", async () => {
    const fd = openSync("/dev/null", "r");
    const w = await start(asNobody, { listenFds: [fd, fd] });
    closeSync(fd);
    expect((await ids(w)).listenFds).toEqual([6, 7]);
  });

  test("the dropped worker accepts connections on a listening socket that main bound", async () => {
    const bound = createBoundSocket({ type: "tcp", address: "127.0.0.1", port: 0, backlog: 16 });
    const w = await start(asNobody, { listenFds: [bound.fd] });
    closeFd(bound.fd);
    await w.control.request(T.Listen, new Uint8Array(0));
    const greeting = await new Promise<string>((resolve, reject) => {
      let got = "";
      Bun.connect({
        hostname: "127.0.0.1",
        port: bound.port,
        socket: { data: (_s, d) => void (got += dec.decode(d)), close: () => resolve(got), error: (_s, e) => reject(e) },
      }).catch(reject);
    });
    expect(greeting).toBe("uid 65534");
  });

  test("a worker that dies is detected: exit status, channel loss, and pending requests fail", async () => {
    const w = await start(asNobody);
    await ids(w);
    const pending = w.control.request(T.Exit, new Uint8Array([3]));
    await pending;
    const exit = await w.exited;
    expect(exit.code).toBe(3);
    expect((await w.channelLost).kind).toBe("peer-closed");
    const e = (await w.control.request(T.Ids, new Uint8Array(0)).catch((x: unknown) => x)) as ChannelError;
    expect(e).toBeInstanceOf(ChannelError);
  });

  test("a worker exits when main closes its channel (main died)", async () => {
    const w = await start(asNobody);
    await ids(w);
    w.control.close();
    expect((await w.exited).code).toBe(0);
  });

  test("a worker killed by a signal is reported with that signal", async () => {
    const w = await start(asNobody);
    await ids(w);
    w.kill("SIGKILL");
    const exit = await w.exited;
    expect(exit.signal).toBe("SIGKILL");
  });

  test("a worker whose plan cannot be applied exits before serving anything", async () => {
    const w = await start({ ...asNobody, chroot: "/nonexistent-privsep-jail" }, { stdio: "ignore" });
    const exit = await w.exited;
    expect(exit.code).not.toBe(0);
    expect((await w.channelLost).kind).toBe("peer-closed");
  });
});

describe("remote private key", () => {
  test("the worker signs through main, and main refuses data that is not a handshake signature input", async () => {
    const key = ecPrivateKey("p256", randomEcScalar("p256"));
    const w = await start(asNobody, { keys: createKeyService([key]) });
    const message = new Uint8Array(64 + 33 + 1 + 32).fill(0x20);
    message.set(enc.encode("TLS 1.3, server CertificateVerify"), 64);
    message[97] = 0;
    const ans = JSON.parse(
      dec.decode((await w.control.request(T.Sign, enc.encode(JSON.stringify({ scheme: "ecdsa_secp256r1_sha256", message: [...message], rounds: 1 })))).body),
    ) as { sig: number[] };
    expect(key.publicKey.verify("ecdsa_secp256r1_sha256", message, new Uint8Array(ans.sig))).toBe(true);
    const refused = dec.decode((await w.control.request(T.SignRefused, new Uint8Array(0))).body);
    expect(refused).toContain("refused");
  });

  test("the worker's blocking decryptPkcs1 returns main's premaster", async () => {
    const rsa = rsaPrivateKeyFromDer(generateRsaPkcs8(2048), "pkcs8");
    const w = await start(asNobody, { keys: createKeyService([ecPrivateKey("p256", randomEcScalar("p256")), rsa]) });
    const pre = new Uint8Array(48).fill(0x33);
    const ans = await w.control.request(T.Decrypt, rsa.publicKey.encryptPkcs1!(pre));
    expect(ans.body).toEqual(pre);
    const bad = await w.control.request(T.Decrypt, new Uint8Array(256).fill(1));
    expect(bad.body.length).toBe(48);
  });
});

describe("WorkerPool", () => {
  test("replaces a worker that dies, and gives up after too many deaths", async () => {
    const lost: number[] = [];
    let gaveUp: Error | null = null;
    const pool = new WorkerPool({
      size: 1,
      start: () => start(asNobody),
      maxRestarts: 1,
      windowMs: 60_000,
      restartDelayMs: 10,
      onLost: (w) => lost.push(w.pid),
      onGiveUp: (e) => (gaveUp = e),
    });
    await pool.start();
    const first = pool.workers[0]!;
    first.kill("SIGKILL");
    await first.exited;
    for (let i = 0; i < 200 && (pool.workers.length === 0 || pool.workers[0] === first); i++) await Bun.sleep(25);
    const second = pool.workers[0]!;
    expect(second.pid).not.toBe(first.pid);
    expect((await ids(second)).uid).toBe(65534);
    second.kill("SIGKILL");
    await second.exited;
    for (let i = 0; i < 100 && gaveUp === null; i++) await Bun.sleep(10);
    expect(gaveUp).not.toBeNull();
    expect(lost).toEqual([first.pid, second.pid]);
    await pool.stop();
  });
});
