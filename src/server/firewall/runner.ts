// The thin edge that applies an nft batch: `nft -f -` with the batch on stdin. Spawned only at
// session connect and disconnect, never per packet. Tests substitute their own NftRunner.

import { existsSync } from "node:fs";
import { FirewallError } from "./ruleset.ts";

export interface NftRunner {
  /** Applies one batch atomically; rejects with a FirewallError when nft is missing or refuses it. */
  apply(batch: string): Promise<void>;
}

/** Where distributions install nft; ocserv-fw itself prepends /sbin:/usr/sbin to PATH. */
export const NFT_PATHS: readonly string[] = Object.freeze(["/usr/sbin/nft", "/sbin/nft"]);

/** The first nft binary found, or null. */
export function findNft(paths: readonly string[] = NFT_PATHS): string | null {
  for (const p of paths) if (existsSync(p)) return p;
  return null;
}

/** At most this much of nft's stderr goes into an error message. */
const MAX_STDERR = 512;

/**
 * A batch that takes longer than this is killed and fails: batches are serialised, so one stuck nft
 * (a held netlink lock, a wedged kernel) must not hold every later CONNECT and disconnect forever.
 */
export const NFT_TIMEOUT_MS = 10_000;

/** The real runner. With no nft binary every apply() rejects with code "nft-missing". */
export function createNftRunner(nftPath: string | null = findNft(), timeoutMs: number = NFT_TIMEOUT_MS): NftRunner {
  return {
    async apply(batch) {
      if (nftPath === null) {
        throw new FirewallError("nft-missing", `nft not found (looked in ${NFT_PATHS.join(", ")})`);
      }
      let proc: ReturnType<typeof Bun.spawn<"pipe", "ignore", "pipe">>;
      try {
        proc = Bun.spawn([nftPath, "-f", "-"], { stdin: "pipe", stdout: "ignore", stderr: "pipe" });
      } catch (e) {
        throw new FirewallError("nft-failed", `cannot start ${nftPath}: ${e instanceof Error ? e.message : String(e)}`);
      }
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        proc.kill("SIGKILL");
      }, timeoutMs);
      try {
        try {
          proc.stdin.write(batch);
          await proc.stdin.end();
        } catch {
          // nft exited before reading everything; its exit status and stderr say why.
        }
        const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
        if (timedOut) throw new FirewallError("nft-failed", `nft did not finish within ${timeoutMs} ms and was killed`);
        if (code !== 0) {
          const text = stderr.trim().replace(/\s+/g, " ").slice(0, MAX_STDERR);
          throw new FirewallError("nft-failed", `nft exited with ${code}: ${text}`);
        }
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
