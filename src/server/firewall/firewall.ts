// Per-session firewall: turns a session's policy into nft batches and applies them in order.
//
// Batches run strictly one after another (a FIFO per SessionFirewall). That ordering is what makes
// device-name reuse safe: a released session's removal for "vpns0" is queued before the tun device is
// closed, so a new session that gets "vpns0" next always installs after that removal, never before.

import { type DeviceName, type FirewallPolicy, installRuleset, parseDeviceName, removeRuleset, resetRuleset } from "./ruleset.ts";
import type { NftRunner } from "./runner.ts";

export class SessionFirewall {
  private tail: Promise<void> = Promise.resolve();
  /** Whether this process has already cleared what an earlier run left in the table. */
  private cleared = false;

  constructor(private readonly runner: NftRunner) {}

  /**
   * Installs `policy` for the session on `device`. The first successful install of this firewall
   * also deletes any table an earlier (crashed) run left. Rejects with a FirewallError; a rejected
   * batch changed nothing (nft -f is atomic).
   */
  install(device: string, policy: FirewallPolicy): Promise<void> {
    const dev = parseDeviceName(device);
    return this.enqueue(async () => {
      const reset = !this.cleared;
      await this.runner.apply(installRuleset(dev, policy, { reset }));
      this.cleared = true;
    });
  }

  /** Removes the session rules of `device`; idempotent. Rejects with a FirewallError. */
  remove(device: string): Promise<void> {
    const dev: DeviceName = parseDeviceName(device);
    return this.enqueue(() => this.runner.apply(removeRuleset(dev)));
  }

  /** Deletes the whole table (for a server start or shutdown); other sessions lose their rules. */
  reset(): Promise<void> {
    return this.enqueue(async () => {
      await this.runner.apply(resetRuleset());
      this.cleared = true;
    });
  }

  /** Resolves once every batch queued so far has run (tests, shutdown). */
  idle(): Promise<void> {
    return this.tail;
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    const p = this.tail.then(job);
    this.tail = p.catch(() => undefined);
    return p;
  }
}
