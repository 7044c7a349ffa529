// Shutdown and reload hooks. The server registers callbacks; src/cli.ts maps SIGTERM/SIGINT to shutdown()
// and SIGHUP to reload() (ocserv: SIGTERM/SIGINT terminate, SIGHUP reloads the configuration).
// Pure: no process state is touched here.
import type { Logger } from "../log/types.ts";

export type ShutdownHook = (reason: string) => void | Promise<void>;
export type ReloadHook = () => void | Promise<void>;

export interface LifecycleRegistry {
  onShutdown(hook: ShutdownHook): void;
  onReload(hook: ReloadHook): void;
}

export type LifecycleState = { readonly kind: "running" } | { readonly kind: "stopping"; readonly reason: string };

export class Lifecycle implements LifecycleRegistry {
  private readonly shutdownHooks: ShutdownHook[] = [];
  private readonly reloadHooks: ReloadHook[] = [];
  private current: LifecycleState = { kind: "running" };

  constructor(private readonly log: Logger) {}

  get state(): LifecycleState {
    return this.current;
  }

  onShutdown(hook: ShutdownHook): void {
    this.shutdownHooks.push(hook);
  }

  onReload(hook: ReloadHook): void {
    this.reloadHooks.push(hook);
  }

  /**
   * Runs the shutdown hooks in reverse registration order (last started, first stopped). Returns false if
   * a shutdown is already in progress, so the caller can treat a second signal as "exit now".
   */
  async shutdown(reason: string): Promise<boolean> {
    if (this.current.kind === "stopping") return false;
    this.current = { kind: "stopping", reason };
    for (const hook of [...this.shutdownHooks].reverse()) {
      try {
        await hook(reason);
      } catch (e) {
        this.log.error(`shutdown hook failed: ${String(e)}`);
      }
    }
    return true;
  }

  /** Runs every reload hook; a failing hook is logged and the others still run. Ignored while stopping. */
  async reload(): Promise<void> {
    if (this.current.kind === "stopping") return;
    for (const hook of this.reloadHooks) {
      try {
        await hook();
      } catch (e) {
        this.log.error(`reload failed: ${String(e)}`);
      }
    }
  }
}
