import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { Transform } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type preParsingHookHandler, type RequestPayload } from 'fastify';
import type { Logger } from 'pino';
import { KeywardError, quote } from '../../errors/index.js';
import {
  accessLogger, requestIdFrom, auditRejected, credentialsFromAuthorization, invoke, isUnsupportedAwsTarget, operationForTarget, pkiPublic, readSysBody, sys, unknownTargetFields, wipeResult, type Credentials, type Operation, type Services,
} from '../../operations/index.js';
import { errorResponse } from './error-response.js';
import { discardBody } from './linger.js';
import { type HttpMetrics } from './metrics.js';
import { registerPkiRoutes, type PublicRoute } from './pki-routes.js';
import { toJson } from './serialize.js';
import { registerUiRoutes } from './ui-routes.js';

export interface HttpAppOptions {
  readonly services: Services;
  readonly log: Logger;
  readonly metrics: HttpMetrics;
  /** Largest request body accepted, in bytes. */
  readonly bodyLimit: number;
  readonly tls?: {
    readonly cert: Buffer;
    readonly key: Buffer;
    /** mTLS: ask clients for a certificate (optional for them); operations decide whether it authenticates. */
    readonly requestClientCertificates?: boolean;
  };
  /** Slow-client protection: time allowed for headers and for the whole request. */
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /**
   * Origins (scheme://host[:port]) besides the listener's own that may call /v1/sys/* from a
   * browser (sysAllowedOrigins). A request with any other Origin header is refused.
   */
  readonly allowedOrigins?: ReadonlySet<string>;
  /** One info line per request (request id, principal, operation, key id, status, duration); default on. */
  readonly accessLog?: boolean;
}

/** What the access log line says about a request; filled as the request goes (never a secret). */
interface AccessNote {
  operation: string;
  code: string;
  principal?: string;
  keyId?: string;
}

/** The request facts operations see, with the access note the transport logs. */
interface HttpMeta {
  readonly requestId: string;
  readonly sourceAddress: string;
  readonly transport: 'http';
  readonly observed: AccessNote;
}

declare module 'fastify' {
  interface FastifyRequest {
    keywardRequestId: string;
    keywardAccess: AccessNote | undefined;
    /** /v1/sys POSTs: the body's chunks as the socket gave them, zeroed after the operation (they may hold a passphrase). */
    keywardBodyChunks: Buffer[] | undefined;
  }
}

/** Operations whose failures an operator must see (someone may be guessing a secret). */
const LOGGED_FAILURES = new Set(['Unseal', 'Rekey', 'RotateRoot', 'RotateBarrier', 'Escrow', 'Init']);
const SYS_NAMES = new Set<string>([...Object.values(sys).map((o) => o.name), ...Object.values(pkiPublic).map((o) => o.name), 'NoRoute']);

/** The request's id (a framework error can come before the onRequest hook set it). */
function idOf(req: FastifyRequest): string {
  if (req.keywardRequestId === '') req.keywardRequestId = randomUUID();
  return req.keywardRequestId;
}

const AMZ_JSON = 'application/x-amz-json-1.1';
const EMPTY = Buffer.alloc(0);

/**
 * The HTTP transport: the AWS KMS JSON protocol on `POST /` (X-Amz-Target), the seal lifecycle
 * under /v1/sys, and /metrics. It only translates bytes; every decision is in operations/.
 */
export function buildHttpApp(options: HttpAppOptions): FastifyInstance {
  const { services, log, metrics } = options;
  // Node checks the header and request timeouts only every connectionsCheckingInterval (30 s by
  // default): check often enough that a slow client is cut off close to its deadline.
  const connectionsCheckingInterval = Math.max(50, Math.min(1000, Math.floor(Math.min(options.headersTimeoutMs, options.requestTimeoutMs) / 4)));
  let closing = false;
  const app = Fastify({
    // The AWS JSON protocol (POST / with the SDKs' content type) is answered from node:http's
    // request event (serveAwsJson, below): it is nearly every request, and Fastify's routing,
    // hooks and reply cost about a tenth of an Encrypt. Everything else goes to Fastify.
    serverFactory: (handler) => {
      const route = (req: IncomingMessage, res: ServerResponse) => {
        if (req.method === 'POST' && req.url === '/' && !closing && req.headers['content-type'] === AMZ_JSON) serveAwsJson(req, res);
        else handler(req, res);
      };
      const server: Server = options.tls
        ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key, connectionsCheckingInterval, ...clientCertificateOptions(options.tls) }, route)
        : createServer({ connectionsCheckingInterval }, route);
      server.keepAliveTimeout = options.keepAliveTimeoutMs;
      server.requestTimeout = options.requestTimeoutMs;
      return server;
    },
    bodyLimit: options.bodyLimit,
    logger: false,
    return503OnClosing: true,
    // Errors Fastify meets before routing (a malformed URL) get the same AWS-shaped answer.
    frameworkErrors: (e, req, reply) => fail(req, reply, e, idOf(req), 'unknown', performance.now()),
    // Node's own answers to unparseable requests (431 for oversized headers) in AWS's shape
    clientErrorHandler: (err, socket) => answerClientError(err, socket),
  }) as unknown as FastifyInstance;
  app.server.headersTimeout = options.headersTimeoutMs;
  // once closing, Fastify answers 503 to whatever still arrives (return503OnClosing)
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });

  app.decorateRequest('keywardRequestId', '');
  app.decorateRequest('keywardAccess', undefined);
  app.decorateRequest('keywardBodyChunks', undefined);
  app.addHook('onRequest', (req, _reply, done) => {
    const given = req.headers['x-request-id'];
    req.keywardRequestId = requestIdFrom(given);
    done();
  });
  const access = accessLogger(log, 'http', options.accessLog !== false);
  if (access !== undefined) {
    app.addHook('onResponse', (req, reply, done) => {
      const a = req.keywardAccess;
      const path = (req.raw.url ?? '').split('?')[0];
      // probes and scrapes come every few seconds: below info, so they do not drown the requests
      const quiet = req.method === 'GET' && (path === '/v1/sys/health' || path === '/metrics');
      access({
        requestId: req.keywardRequestId, principal: a?.principal, operation: a?.operation ?? 'NoRoute', keyId: a?.keyId,
        status: reply.statusCode, code: a?.code ?? 'OK', started: performance.now() - reply.elapsedTime,
      }, quiet);
      done();
    });
  }

  // The Date header tells clients the server's time: SDKs correct their clock skew from it, and
  // SigV4 dates are checked against the same clock.
  let dateSecond = -1;
  let dateText = '';
  const dateHeader = () => {
    const now = services.clock().getTime();
    const second = Math.floor(now / 1000);
    if (second !== dateSecond) {
      dateSecond = second;
      dateText = new Date(now).toUTCString();
    }
    return dateText;
  };
  app.addHook('onSend', (req, reply, payload, done) => {
    reply.header('date', dateHeader());
    reply.header('x-request-id', req.keywardRequestId);
    // draining: every connection closes after its answer, so the node can stop once they are done
    if (services.lifecycle?.draining) reply.header('connection', 'close');
    done(null, payload);
  });

  // Every body is read raw: SigV4 signs the exact bytes, and JSON errors must be ours.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const meta = (req: FastifyRequest, requestId: string) => {
    req.keywardAccess ??= { operation: 'unknown', code: 'OK' };
    return { requestId, sourceAddress: req.ip ?? '', transport: 'http' as const, observed: req.keywardAccess };
  };
  /** The operation label: a registered operation's name, else one word (metric labels stay a closed set). */
  const label = (operation: string) => (operationForTarget(`Keyward.${operation}`) ?? operationForTarget(`TrentService.${operation}`) ?? SYS_NAMES.has(operation) ? operation : 'unknown');

  /** The AWS-shaped error answer of a request refused before or by its operation (audited, counted, logged). */
  const failure = async (m: HttpMeta, error: unknown, operation: string, started: number, fields?: Record<string, string>) => {
    // Requests refused before reaching an operation are audited here (invoke records the rest).
    const e = await auditRejected(services, m, operation, error, undefined, fields);
    const r = errorResponse(e, m.requestId);
    m.observed.operation = label(operation);
    m.observed.code = r.code;
    if (r.internal) log.error({ err: e, requestId: m.requestId, operation, code: r.code }, 'request failed on the server side');
    if (LOGGED_FAILURES.has(operation)) log.warn({ requestId: m.requestId, operation, code: r.code, source: m.sourceAddress }, `${operation} failed`);
    metrics.observe(m.observed.operation, r.code, (performance.now() - started) / 1000);
    return r;
  };

  const fail = async (req: FastifyRequest, reply: FastifyReply, error: unknown, requestId: string, operation: string, started: number, fields?: Record<string, string>) => {
    const r = await failure(meta(req, requestId), error, operation, started, fields);
    return reply.code(r.status).header('content-type', AMZ_JSON).header('x-amzn-requestid', requestId)
      .header('x-amzn-errortype', r.code).send(r.body);
  };

  /** The AWS JSON protocol: the operation X-Amz-Target names, run on the body; its JSON answer. */
  const runTarget = async (m: HttpMeta, target: string, op: Operation | undefined, raw: Buffer | undefined, credentials: () => Credentials, started: number) => {
    try {
      const body = parseJson(raw);
      if (op === undefined && isUnsupportedAwsTarget(target)) throw new KeywardError('UnsupportedOperationException', `${target.slice('TrentService.'.length)} is an AWS KMS operation Keyward does not support (custom key stores and multi-Region keys are not implemented).`);
      if (op === undefined) throw new KeywardError('UnknownOperationException', target === '' ? 'The request has no X-Amz-Target header naming the operation.' : `Unknown operation ${quote(target)}.`);
      const result = await invoke(services, op, credentials(), body, m);
      const json = toJson(result);
      wipeResult(result);
      metrics.observe(op.name, 'OK', (performance.now() - started) / 1000);
      m.observed.operation = op.name;
      m.observed.code = 'OK';
      return { status: 200, code: undefined, body: json };
    } catch (e) {
      // the audit record and the metrics name an operation from the closed set; unknown text only as a digest
      if (op !== undefined) return failure(m, e, op.name, started);
      return target === '' ? failure(m, e, 'MissingTarget', started) : failure(m, e, 'UnknownOperation', started, unknownTargetFields(target));
    }
  };

  app.post('/', async (req, reply) => {
    const started = performance.now();
    const requestId = idOf(req);
    const target = headerString(req.headers['x-amz-target']);
    const r = await runTarget(meta(req, requestId), target, operationForTarget(target), Buffer.isBuffer(req.body) ? req.body : undefined, () => credentialsOf(req.raw, req.body), started);
    reply.code(r.status).header('content-type', AMZ_JSON).header('x-amzn-requestid', requestId);
    if (r.code !== undefined) reply.header('x-amzn-errortype', r.code);
    wipeOnceSent(reply.raw, r.body);
    return reply.send(r.body);
  });

  /**
   * POST / straight from node:http (see serverFactory): the same steps as the Fastify route and
   * its hooks (request id, bounded body, Date, X-Request-Id, draining, metrics, access log).
   */
  function serveAwsJson(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const given = req.headers['x-request-id'];
    const requestId = requestIdFrom(given);
    const m: HttpMeta = { requestId, sourceAddress: req.socket.remoteAddress ?? '', transport: 'http', observed: { operation: 'unknown', code: 'OK' } };
    readBody(req, options.bodyLimit, (error, raw) => {
      const answer = error === undefined
        ? (() => {
          const target = headerString(req.headers['x-amz-target']);
          return runTarget(m, target, operationForTarget(target), raw, () => credentialsOf(req, raw), started);
        })()
        // an oversized body: drop the rest of it first, so a client still sending can read the 413
        : (tooLarge(error) ? discardBody(req) : Promise.resolve()).then(() => failure(m, error, 'unknown', started));
      answer.then((r) => {
        const headers: Record<string, string | number> = {
          'content-type': AMZ_JSON, 'x-amzn-requestid': requestId, date: dateHeader(), 'x-request-id': requestId, 'content-length': Buffer.byteLength(r.body),
        };
        if (r.code !== undefined) headers['x-amzn-errortype'] = r.code;
        // a body that could not be read may still be arriving: close rather than read it as the next request
        if (error !== undefined || services.lifecycle?.draining === true) headers.connection = 'close';
        res.writeHead(r.status, headers);
        wipeOnceSent(res, r.body);
        res.end(r.body);
        if (access !== undefined) {
          const a = m.observed;
          access({ requestId, principal: a.principal, operation: a.operation, keyId: a.keyId, status: r.status, code: a.code, started });
        }
      }).catch((e: unknown) => {
        log.error({ err: e, requestId }, 'request failed on the server side');
        res.destroy();
      });
    });
  }

  const sysRoute = (method: 'GET' | 'POST', path: string, op: Operation, status?: (result: Record<string, unknown>, req: FastifyRequest) => number) => {
    app.route({
      method,
      url: path,
      // keep hold of the chunks the body is read from, to zero them with the body after use
      preParsing: method === 'POST' ? [tapBody] : [],
      handler: async (req, reply) => {
        const started = performance.now();
        const requestId = idOf(req);
        let body: Record<string, unknown> = {};
        try {
          if (method === 'POST') requireJson(req);
          requireOwnOrigin(req, options);
          // passphrases and shares are read as bytes, zeroed below with the raw body (never strings)
          if (method === 'POST' && Buffer.isBuffer(req.body)) body = readSysBody(req.body);
          const result = await invoke(services, op, credentialsOf(req.raw, req.body), body, meta(req, requestId)) as Record<string, unknown>;
          const code = status?.(result, req) ?? 200;
          const json = toJson(result);
          wipeResult(result);
          wipeOnceSent(reply.raw, json);
          metrics.observe(op.name, 'OK', (performance.now() - started) / 1000);
          req.keywardAccess = { ...req.keywardAccess, operation: op.name, code: 'OK' };
          return reply.code(code).header('content-type', 'application/json').header('x-amzn-requestid', requestId).send(json);
        } catch (e) {
          return fail(req, reply, e, requestId, op.name, started);
        } finally {
          wipeResult(body);
          if (Buffer.isBuffer(req.body)) req.body.fill(0);
          for (const chunk of req.keywardBodyChunks ?? []) chunk.fill(0);
        }
      },
    });
  };
  // Vault's health codes: 200 unsealed, 503 sealed (or draining, or the store unreachable), 501 not
  // initialised (load balancers read these); Vault's query parameters choose other codes.
  sysRoute('GET', '/v1/sys/health', sys.health, (r, req) => {
    const q = healthQuery(req.query);
    if (r.store !== undefined || r.draining === true || r.rollback_detected === true) return 503;
    if (!r.initialized) return q.uninitcode ?? 501;
    if (r.sealed) return q.sealedcode ?? 503;
    return q.activecode ?? 200;
  });
  sysRoute('GET', '/v1/sys/seal-status', sys.sealStatus);
  sysRoute('POST', '/v1/sys/init', sys.init);
  sysRoute('POST', '/v1/sys/unseal', sys.unseal);
  sysRoute('POST', '/v1/sys/seal', sys.seal);
  sysRoute('POST', '/v1/sys/rekey', sys.rekey);
  sysRoute('POST', '/v1/sys/rotate-root', sys.rotateRoot);
  sysRoute('POST', '/v1/sys/rotate-barrier', sys.rotateBarrier);
  sysRoute('POST', '/v1/sys/escrow', sys.escrow);

  const publicRoute: PublicRoute = (method, url, op, body, render) => {
    app.route({
      method,
      url,
      handler: async (req, reply) => {
        const started = performance.now();
        const requestId = idOf(req);
        try {
          const result = await invoke(services, op, { kind: 'none' }, body(req), meta(req, requestId)) as Record<string, unknown>;
          const out = render(result, req);
          metrics.observe(op.name, 'OK', (performance.now() - started) / 1000);
          req.keywardAccess = { ...req.keywardAccess, operation: op.name, code: 'OK' };
          return reply.code(200).header('content-type', out.type).header('x-amzn-requestid', requestId).send(out.payload);
        } catch (e) {
          return fail(req, reply, e, requestId, op.name, started);
        }
      },
    });
  };
  registerPkiRoutes(publicRoute);

  // the web console: static files that call the same API as every other client
  registerUiRoutes(app);

  app.get('/metrics', async (_req, reply) => {
    return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.setNotFoundHandler(async (req, reply) => {
    const requestId = idOf(req);
    await auditRejected(services, meta(req, requestId), 'NoRoute', new KeywardError('UnknownOperationException', 'no route'));
    req.keywardAccess = { ...req.keywardAccess, operation: 'NoRoute', code: 'UnknownOperationException' };
    const message = `No route for ${quote(req.method)} ${quote((req.raw.url ?? '').split('?')[0] ?? '')}; the AWS KMS API is POST / with X-Amz-Target.`;
    return reply.code(404).header('content-type', AMZ_JSON).header('x-amzn-requestid', requestId)
      .send(JSON.stringify({ __type: 'UnknownOperationException', message }));
  });

  app.setErrorHandler(async (e, req, reply) => {
    // an oversized body: drop the rest of it first, so a client still sending can read the 413
    if ((e as { code?: unknown }).code === 'FST_ERR_CTP_BODY_TOO_LARGE') await discardBody(req.raw);
    return fail(req, reply, e, idOf(req), 'unknown', performance.now());
  });

  return app;
}

/**
 * Client certificates are requested, never required (tokens and SigV4 work on the same listener),
 * and the chain is judged by Keyward's PKI, not OpenSSL: so a refused certificate gets a clear
 * AccessDeniedException instead of a bare handshake failure.
 */
function clientCertificateOptions(tls: NonNullable<HttpAppOptions['tls']>): { requestCert?: boolean; rejectUnauthorized?: boolean } {
  return tls.requestClientCertificates === true ? { requestCert: true, rejectUnauthorized: false } : {};
}

/** Keeps the chunks a /v1/sys body is read from (the same Buffers, passed through), to zero them after use. */
const tapBody: preParsingHookHandler = (req, _reply, payload, done) => {
  const chunks: Buffer[] = [];
  req.keywardBodyChunks = chunks;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback(null, chunk);
    },
  });
  payload.on('error', (e: Error) => tap.destroy(e));
  done(null, payload.pipe(tap) as unknown as RequestPayload);
};

/** An answer made of bytes holds a secret (see toJson): zeroed once the socket has taken it. */
function wipeOnceSent(res: ServerResponse, json: string | Buffer): void {
  if (Buffer.isBuffer(json)) res.once('close', () => json.fill(0));
}

function credentialsOf(req: IncomingMessage, body: unknown): Credentials {
  const authorization = headerString(req.headers.authorization);
  if (authorization === '') {
    // an explicit Authorization header wins; otherwise a client certificate, if one was presented
    const certificate = (req.socket as Partial<TLSSocket>).getPeerCertificate?.().raw;
    if (certificate !== undefined) return { kind: 'certificate', certificate };
  }
  return credentialsFromAuthorization(authorization, () => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    return {
      method: req.method ?? 'GET',
      path: q < 0 ? url : url.slice(0, q),
      query: q < 0 ? '' : url.slice(q + 1),
      headers: req.headers,
      body: Buffer.isBuffer(body) ? body : EMPTY,
    };
  });
}

/** An error of reading a body, with the code Fastify gives the same failure (errorResponse maps them). */
function bodyError(code: 'FST_ERR_CTP_BODY_TOO_LARGE' | 'FST_ERR_CTP_INVALID_CONTENT_LENGTH'): Error {
  return Object.assign(new Error(code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'Request body is too large' : 'Request body size did not match Content-Length'), { code });
}

function tooLarge(e: unknown): boolean {
  return (e as { code?: unknown }).code === 'FST_ERR_CTP_BODY_TOO_LARGE';
}

/** Reads a whole request body of at most `limit` bytes (Fastify's rules: Content-Length first, then the bytes seen). */
function readBody(req: IncomingMessage, limit: number, done: (error: unknown, body: Buffer | undefined) => void): void {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) {
    done(bodyError('FST_ERR_CTP_BODY_TOO_LARGE'), undefined);
    return;
  }
  const chunks: Buffer[] = [];
  let received = 0;
  const finish = (error: unknown, body: Buffer | undefined) => {
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onEnd);
    done(error, body);
  };
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (received > limit) finish(bodyError('FST_ERR_CTP_BODY_TOO_LARGE'), undefined);
    else chunks.push(chunk);
  };
  const onEnd = (error?: unknown) => {
    if (error !== undefined && error !== null) finish(error, undefined);
    else if (!Number.isNaN(declared) && received !== declared) finish(bodyError('FST_ERR_CTP_INVALID_CONTENT_LENGTH'), undefined);
    // a copy: never a view over the socket's read buffer
    else finish(undefined, chunks.length === 0 ? EMPTY : Buffer.concat(chunks, received));
  };
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onEnd);
}

/**
 * /v1/sys/* takes only application/json: a web page can send text/plain or a form to any
 * address without asking, but not JSON (that needs a CORS preflight Keyward never grants).
 */
function requireJson(req: FastifyRequest): void {
  const type = headerString(req.headers['content-type']).split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new KeywardError('ValidationException', 'POST /v1/sys/* needs Content-Type: application/json.');
  }
}

/**
 * A browser names the page's origin on every POST (and on cross-origin requests): only the
 * listener's own origin (its address and port, also `localhost` on loopback, never the Host
 * header, which DNS rebinding controls) and sysAllowedOrigins may drive /v1/sys/*. Clients
 * that are not browsers send no Origin.
 */
function requireOwnOrigin(req: FastifyRequest, options: HttpAppOptions): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  if (options.allowedOrigins?.has(origin) === true) return;
  const socket = req.raw.socket;
  const scheme = options.tls !== undefined ? 'https' : 'http';
  const port = socket.localPort;
  const address = socket.localAddress;
  if (port !== undefined && address !== undefined) {
    const hosts = [address.includes(':') ? `[${address}]` : address];
    if (loopback(address)) hosts.push('localhost', '127.0.0.1', '[::1]');
    const defaultPort = (scheme === 'https' && port === 443) || (scheme === 'http' && port === 80);
    if (hosts.some((h) => origin === `${scheme}://${h}:${port}` || (defaultPort && origin === `${scheme}://${h}`))) return;
  }
  throw new KeywardError('AccessDeniedException', `Cross-origin request refused: Origin ${quote(origin)} is not this server's own; allow it with sysAllowedOrigins.`);
}

function loopback(address: string): boolean {
  return address === '::1' || /^(::ffff:)?127\.\d+\.\d+\.\d+$/i.test(address);
}

/** Node's refusals before a request exists: oversized headers (431) and unparseable requests (400), AWS-shaped. */
function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, code, message] = err.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'Request Header Fields Too Large', 'RequestHeaderFieldsTooLargeException', 'The request headers are larger than this server accepts (16 KiB in all).'] as const
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'RequestTimeoutException', 'The request was not received in time.'] as const
      : [400, 'Bad Request', 'SerializationException', 'The HTTP request could not be parsed.'] as const;
  const body = JSON.stringify({ __type: code, message });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: ${AMZ_JSON}\r\nx-amzn-ErrorType: ${code}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

function headerString(v: string | string[] | undefined): string {
  return Array.isArray(v) ? v.join(',') : v ?? '';
}

/** The body as JSON; malformed JSON is SerializationException, without echoing the input. */
function parseJson(body: unknown): unknown {
  if (!Buffer.isBuffer(body) || body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new KeywardError('SerializationException', 'The request body is not valid JSON.');
  }
}

const HEALTH_CODES = ['activecode', 'standbycode', 'sealedcode', 'uninitcode', 'drsecondarycode', 'performancestandbycode', 'perfstandbyokcode'] as const;
const HEALTH_FLAGS = ['standbyok', 'perfstandbyok'] as const;

/**
 * Vault's /v1/sys/health parameters: `sealedcode`, `uninitcode`, `activecode` (and the standby ones,
 * accepted for compatibility: a Keyward node is never a standby, every unsealed node is active).
 * A code that is not an HTTP status is refused, naming the parameter.
 */
function healthQuery(query: unknown): Partial<Record<typeof HEALTH_CODES[number], number>> {
  const q = (query ?? {}) as Record<string, unknown>;
  const out: Partial<Record<typeof HEALTH_CODES[number], number>> = {};
  for (const name of HEALTH_CODES) {
    const v = q[name];
    if (v === undefined) continue;
    const n = typeof v === 'string' && /^\d{3}$/.test(v) ? Number(v) : NaN;
    if (!(n >= 200 && n <= 599)) throw new KeywardError('ValidationException', `Health parameter ${name} must be an HTTP status code from 200 to 599.`);
    out[name] = n;
  }
  for (const name of HEALTH_FLAGS) {
    const v = q[name];
    if (v !== undefined && !['', 'true', 'false', '1', '0'].includes(String(v))) throw new KeywardError('ValidationException', `Health parameter ${name} must be true or false.`);
  }
  return out;
}
