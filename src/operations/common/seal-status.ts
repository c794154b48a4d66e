import type { SealStatus } from '../../seal/index.js';
import type { Services } from '../context.js';

/** Seal status in Vault's shape (lowercase), as /v1/sys/seal-status answers. */
export function sealStatusView(services: Services, s: SealStatus): Record<string, unknown> {
  return {
    initialized: s.initialized,
    sealed: s.sealed,
    ...(s.type !== undefined ? { type: s.type } : {}),
    ...(s.initializedAt !== undefined ? { initialized_at: s.initializedAt } : {}),
    ...(s.threshold !== undefined ? { share_count: s.shares, threshold: s.threshold, progress: s.progress } : {}),
    ...(s.recoveryThreshold !== undefined ? { recovery_share_count: s.recoveryShares, recovery_threshold: s.recoveryThreshold } : {}),
    ...(s.barrier !== undefined ? {
      barrier: {
        active_term: s.barrier.activeTerm,
        terms: s.barrier.terms,
        encryptions: s.barrier.encryptions,
        rotate_after: s.barrier.rotateAfter,
        rewrap: { running: s.barrier.rewrap.running, scanned: s.barrier.rewrap.scanned, rewrapped: s.barrier.rewrap.rewrapped },
      },
    } : {}),
    ...(services.rollback?.state.kind === 'detected' ? {
      rollback: { detected: true, since: services.rollback.state.since, findings: services.rollback.state.findings.map((f) => f.message) },
    } : {}),
    version: services.version,
    node: services.nodeId,
  };
}
