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
    ...(s.escrow !== undefined ? {
      escrow: {
        issued_at: s.escrow.issuedAt, shares: s.escrow.shares, threshold: s.escrow.threshold, stale: s.escrow.staleSince !== undefined,
        ...(s.escrow.staleSince !== undefined ? { stale_since: s.escrow.staleSince } : {}),
      },
    } : {}),
    ...(s.escrow?.staleSince !== undefined ? {
      warnings: [`The escrow shares issued at ${s.escrow.issuedAt} recover nothing since the root key was rotated at ${s.escrow.staleSince}: issue new ones with \`keyward escrow\`.`],
    } : {}),
    ...(s.autoUnseal !== undefined ? { auto_unseal: s.autoUnseal.replace(/-/g, '_') } : {}),
    version: services.version,
    node: services.nodeId,
  };
}
