import { invoke, operationForTarget, type Operation } from '../../operations/index.js';
import { unaryCall, type GrpcEnv, type Implementation } from './unary.js';

/**
 * miniKMS's PKIService (proto/minikms/v1/pki.proto) over Keyward's PKI operations: an org is a
 * tenant, a member a principal. Only the wire shapes are translated here.
 */
export const MINIKMS_PKI_SERVICE = 'minikms.v1.PKIService';

type Message = Record<string, unknown>;

function op(name: string): Operation {
  const o = operationForTarget(`Keyward.${name}`);
  if (o === undefined) throw new Error(`unreachable: Keyward.${name} is registered`);
  return o;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const opt = (name: string, v: unknown): Message => (v === undefined ? {} : { [name]: v });

export function minikmsPkiService(env: GrpcEnv): Implementation {
  const rpc = (operation: Operation, input: (m: Message) => Message, output: (r: Message) => Message) =>
    unaryCall<Message, Message>(env, operation.name, async (request, credentials, meta) =>
      output(await invoke(env.services, operation, credentials, input(request), meta) as Message));
  return {
    // ensures the org has a CA and answers it (miniKMS clients call it before issuing)
    CreateOrgCA: rpc(op('CreateTenantCA'), (m) => ({
      ...opt('Tenant', str(m.org_id) ?? ''), ...opt('CommonName', str(m.org_name) && `${str(m.org_name)!.slice(0, 48)} Intermediate CA`), ReturnExisting: true,
    }), (r) => {
      const ca = r.TenantCA as { Certificate: string; SerialNumber: string };
      return { cert_pem: ca.Certificate, serial_hex: ca.SerialNumber };
    }),
    IssueMemberCert: rpc(op('IssueCertificate'), (m) => ({
      Tenant: str(m.org_id) ?? '', Principal: str(m.member_id) ?? '', ...opt('Email', str(m.member_email)), ...opt('Role', str(m.role)),
    }), (r) => ({ cert_pem: r.Certificate, key_pem: r.PrivateKey, serial_hex: r.SerialNumber })),
    RevokeCert: rpc(op('RevokeCertificate'), (m) => ({
      Tenant: str(m.org_id) ?? '', SerialNumber: str(m.serial_hex) ?? '', Reason: typeof m.reason === 'number' ? m.reason : 0,
    }), () => ({ success: true })),
    GetCRL: rpc(op('GetCRL'), (m) => ({ Tenant: str(m.org_id) ?? '', Delta: m.delta_only === true }),
      (r) => ({ crl_der: r.Crl, crl_number: r.CrlNumber, is_delta: r.IsDelta })),
    CheckOCSP: rpc(op('GetCertificateStatus'), (m) => ({ Tenant: str(m.org_id) ?? '', SerialNumber: str(m.serial_hex) ?? '' }), (r) => ({
      status: r.Status === 'GOOD' ? 0 : r.Status === 'REVOKED' ? 1 : 2,
      revoked_at: typeof r.RevocationDate === 'number' ? new Date(r.RevocationDate * 1000).toISOString() : '',
    })),
    GetRootCA: rpc(op('GetRootCA'), () => ({}), (r) => ({ cert_pem: (r.RootCA as { Certificate: string }).Certificate })),
  };
}
