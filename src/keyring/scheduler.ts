import type { Barrier } from '../barrier/index.js';
import type { Clock } from './clock.js';
import type { Keys } from './keys.js';
import { paths, type ScheduleKind } from './paths.js';
import { tenantState } from './tenant-state.js';
import type { Tenants } from './tenants.js';

export interface SchedulerReport {
  readonly rotated: number;
  readonly deleted: number;
  /** Tenants deleted (crypto-shredded) at the end of their window by this node. */
  readonly tenantsDeleted: number;
}

/**
 * Runs automatic rotations, key deletions and tenant deletions when due. Due times live in a
 * sorted index (`schedule/<kind>/<ISO time>/<tenant>[/<key>]`), so a tick reads only what is due.
 * Each action is a compare-and-set transaction that re-checks its record, so with many nodes
 * ticking, it happens once. Keys of a tenant that is suspended or pending deletion wait: nothing
 * of such a tenant changes until it is resumed (or the deletion is cancelled).
 */
export class Scheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SchedulerReport> | undefined;

  constructor(
    private readonly barrier: Barrier,
    private readonly tenants: Tenants,
    private readonly keys: Keys,
    private readonly clock: Clock,
    private readonly onError: (e: unknown) => void,
    private readonly onTenantDeleted?: (tenantId: string) => void,
  ) {}

  start(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => void this.tick().catch(this.onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass over everything due now. Concurrent calls share one pass. */
  tick(): Promise<SchedulerReport> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<SchedulerReport> {
    if (!this.barrier.unlocked) return { rotated: 0, deleted: 0, tenantsDeleted: 0 };
    let rotated = 0;
    let deleted = 0;
    let tenantsDeleted = 0;
    for (const due of await this.due('tenant-deletion')) {
      try {
        if (await this.tenants.purge(due.tenantId)) {
          tenantsDeleted++;
          this.onTenantDeleted?.(due.tenantId);
        }
      } catch (e) {
        this.onError(e);
      }
    }
    for (const kind of ['rotation', 'deletion'] as const) {
      for (const due of await this.due(kind)) {
        const tenant = await this.tenants.find(due.tenantId);
        if (tenant === undefined || tenantState(tenant) !== 'Active') continue;
        try {
          if (kind === 'deletion') {
            if (await this.keys.purge(tenant, due.keyId)) deleted++;
          } else if (await this.keys.rotateIfDue(tenant, due.keyId)) {
            rotated++;
          }
        } catch (e) {
          this.onError(e);
        }
      }
    }
    return { rotated, deleted, tenantsDeleted };
  }

  private async due(kind: ScheduleKind): Promise<Array<{ tenantId: string; keyId: string }>> {
    const now = this.clock().toISOString();
    const prefix = paths.schedules(kind);
    const out: Array<{ tenantId: string; keyId: string }> = [];
    for (let after: string | undefined; ;) {
      const page = await this.barrier.list(prefix, { ...(after !== undefined ? { after } : {}), limit: 500 });
      for (const e of page.entries) {
        const [at = '', tenantId = '', keyId = ''] = e.path.slice(prefix.length).split('/');
        if (at > now) return out;
        out.push({ tenantId, keyId });
      }
      if (page.next === undefined) return out;
      after = page.next;
    }
  }
}
