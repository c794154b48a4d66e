import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, launchChromium, requireBuiltConsole, screenshot, seriousViolations } from '../../helpers/browser.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { adminOf } from '../../helpers/seal.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { pollUntil } from '../../helpers/wait.js';

const UI_TIMEOUT = 30_000;

/** /v1/sys calls as the console makes them: JSON, from the same origin. */
async function sysJson(url: string, path: string, body: unknown, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/v1/sys/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

async function visible(l: Locator, timeout = UI_TIMEOUT): Promise<Locator> {
  await l.first().waitFor({ state: 'visible', timeout });
  return l.first();
}

async function textOf(l: Locator): Promise<string> {
  return (await visible(l)).innerText();
}

/** Polls until the locator's text contains `text` (the page updates after each request). */
async function waitText(l: Locator, text: string, timeout = UI_TIMEOUT): Promise<void> {
  await pollUntil(async () => (await l.count()) > 0 ? (await l.first().innerText()) : '', (t) => t.includes(text), `text "${text}"`, timeout);
}

async function signInWithToken(page: Page, token: string): Promise<void> {
  await (await visible(page.getByLabel('Token', { exact: true }))).fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe.skipIf(!haveChromium())('web console in Chromium', () => {
  let t: TestServer;
  let browser: Browser;
  let shares: string[];
  let admin: { accessKeyId: string; secretAccessKey: string; token: string };
  const cspErrors: string[] = [];

  beforeAll(async () => {
    requireBuiltConsole();
    t = await startTestServer({ init: false, config: { unsealRatePerMinute: 0 } });
    const init = await sysJson(t.url, 'init', { seal: 'shamir', shares: 5, threshold: 3 });
    expect(init.status).toBe(200);
    shares = init.body.shares as string[];
    admin = adminOf(init.body);
    expect((await sysJson(t.url, 'seal', {}, admin.token)).status).toBe(200);
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const newPage = async (context?: BrowserContext, viewport = { width: 1280, height: 900 }): Promise<Page> => {
    const page = await (context ?? await browser.newContext({ viewport })).newPage();
    page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) cspErrors.push(m.text()); });
    return page;
  };

  const noSeriousViolations = async (page: Page, name: string) => {
    expect({ page: name, violations: await seriousViolations(page) }).toEqual({ page: name, violations: [] });
  };

  it('serves the console with a strict CSP and no framing, and nothing else under /ui/ (other paths get the AWS-shaped 404)', async () => {
    const res = await fetch(`${t.url}/ui/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await res.text();
    // no inline script: every <script> has a src
    expect(html.match(/<script(?![^>]*\bsrc=)[^>]*>/g)).toBeNull();
    for (const path of ['/ui/../package.json', '/ui/assets/nope.js', '/ui/%2e%2e/package.json']) {
      const missing = await fetch(`${t.url}${path}`);
      expect(missing.status, path).toBe(404);
      expect(await missing.json(), path).toMatchObject({ __type: 'UnknownOperationException' });
    }
    expect(await (await fetch(`${t.url}/ui`)).text()).toBe(html);
  });

  it('signs in, unseals share by share, creates and rotates a key, sees the new version and the audit record', { timeout: 300_000 }, async () => {
    const page = await newPage();
    const response = await page.goto(`${t.url}/ui/`);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
    await waitText(page.getByTestId('seal-state'), 'Sealed');
    await noSeriousViolations(page, 'status (sealed)');
    await screenshot(page, 'unseal');

    // sign in while sealed: the credentials wait (in memory) until the node is unsealed
    await signInWithToken(page, admin.token);
    await visible(page.getByText('not yet verified'));
    for (const [i, share] of shares.slice(0, 3).entries()) {
      await (await visible(page.getByLabel('Unseal share (one at a time)'))).fill(share);
      await page.getByRole('button', { name: 'Submit share' }).click();
      if (i < 2) await waitText(page.getByTestId('unseal-progress'), `${i + 1} of 3 shares`);
    }
    await waitText(page.getByTestId('seal-state'), 'Unsealed');
    await visible(page.getByText('admin (admin, tenant default)'));
    // the secret is in memory only
    expect(await page.evaluate('localStorage.length + sessionStorage.length + document.cookie.length')).toBe(0);
    await noSeriousViolations(page, 'status');
    await screenshot(page, 'status');

    // create a key with an alias
    await page.getByRole('link', { name: 'Keys' }).click();
    await (await visible(page.getByLabel('Description', { exact: true }))).fill('made in the console');
    await page.getByLabel('Alias (optional)').fill('alias/console-test');
    await page.getByRole('button', { name: 'Create key' }).click();
    await waitText(page.getByRole('status'), 'Created key');
    const row = await visible(page.getByRole('row').filter({ hasText: 'alias/console-test' }));
    await noSeriousViolations(page, 'keys');
    await screenshot(page, 'keys');

    // a second tab follows the audit log live while the first rotates the key
    const tail = await newPage(page.context());
    await tail.goto(`${t.url}/ui/#/audit`);
    await signInWithToken(tail, admin.token);
    await (await visible(tail.getByRole('button', { name: 'Start live tail' }))).click();
    await waitText(tail.getByTestId('audit-tail'), 'CreateAlias');

    // rotate it and see version 2 become primary
    await row.getByRole('link').click();
    await waitText(page.getByTestId('key-state'), 'Enabled');
    const keyId = (await textOf(page.locator('.facts dd.mono'))).trim();
    await page.getByRole('button', { name: 'Rotate now' }).click();
    await waitText(page.getByTestId('version-2'), 'primary');
    expect(await textOf(page.getByTestId('version-2'))).toContain('ON_DEMAND');
    expect(await textOf(page.getByTestId('version-1'))).toContain('Enabled');
    await waitText(tail.getByTestId('audit-tail'), 'RotateKeyOnDemand');
    await tail.close();
    await noSeriousViolations(page, 'key');
    await screenshot(page, 'key');

    // destructive actions need the alias typed in
    await page.getByRole('button', { name: 'Schedule deletion' }).click();
    const dialog = await visible(page.getByRole('dialog'));
    const confirmButton = dialog.getByRole('button', { name: 'Schedule deletion' });
    expect(await confirmButton.isDisabled()).toBe(true);
    await dialog.getByLabel(/Type .* to confirm/).fill('alias/console-tes');
    expect(await confirmButton.isDisabled()).toBe(true);
    await noSeriousViolations(page, 'confirmation dialog');
    await screenshot(page, 'confirm');
    await dialog.getByLabel(/Type .* to confirm/).fill('alias/console-test');
    await confirmButton.click();
    await waitText(page.getByTestId('key-state'), 'PendingDeletion');
    await page.getByRole('button', { name: 'Cancel deletion' }).click();
    await waitText(page.getByTestId('key-state'), 'Disabled');
    await page.getByRole('button', { name: 'Enable key' }).click();
    await waitText(page.getByTestId('key-state'), 'Enabled');

    // the rotation's audit record, by search
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Operation (e.g. RotateKeyOnDemand)').fill('RotateKeyOnDemand');
    await page.getByLabel('Key id or ARN').fill(keyId);
    await page.getByRole('button', { name: 'Search' }).click();
    // The page first lists every record (RotateKeyOnDemand among them); wait for the search's answer.
    const rows = page.getByTestId('audit-results').locator('tbody tr');
    await pollUntil(async () => rows.allInnerTexts(), (r) => r.length === 1 && r[0]!.includes('RotateKeyOnDemand'), 'one RotateKeyOnDemand row', UI_TIMEOUT);
    await page.getByRole('button', { name: 'Verify the audit log' }).click();
    await waitText(page.getByTestId('audit-verify-result'), 'Intact');
    await noSeriousViolations(page, 'audit');
    await screenshot(page, 'audit');

    // tenants and PKI pages render for the system admin
    await page.getByRole('link', { name: 'Tenants' }).click();
    await visible(page.getByRole('cell', { name: 'default', exact: true }));
    await noSeriousViolations(page, 'tenants');
    await screenshot(page, 'tenants');
    // PKI: a CA and a certificate made through the API, revoked in the console
    for (const [target, body] of [['Keyward.CreateRootCA', {}], ['Keyward.CreateTenantCA', {}], ['Keyward.IssueCertificate', { Principal: 'svc', ValidityDays: 30 }]] as const) {
      const r = await callTarget(t.url, target, body, admin);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    await page.getByRole('link', { name: 'PKI' }).click();
    await visible(page.getByRole('heading', { name: 'Certificate revocation lists' }));
    await waitText(page.locator('.facts').filter({ hasText: 'Complete CRL' }), 'number ');
    const certRow = await visible(page.getByRole('row').filter({ hasText: 'svc' }));
    const serial = (await textOf(certRow.locator('td.mono'))).trim();
    await page.getByLabel('Revocation reason').selectOption('keyCompromise');
    await certRow.getByRole('button', { name: 'Revoke' }).click();
    const revoke = await visible(page.getByRole('dialog'));
    await revoke.getByLabel(/Type .* to confirm/).fill(serial);
    await revoke.getByRole('button', { name: 'Revoke' }).click();
    await waitText(page.getByRole('row').filter({ hasText: serial }), 'REVOKED (keyCompromise');
    await noSeriousViolations(page, 'pki');
    await screenshot(page, 'pki');

    // a reload forgets the credentials
    await page.goto(`${t.url}/ui/#/keys`);
    await page.reload();
    await visible(page.getByRole('heading', { name: 'Sign in' }));
    await page.context().close();
  });

  it('refuses a wrong token with the server\'s error code and message', { timeout: 120_000 }, async () => {
    const page = await newPage();
    await page.goto(`${t.url}/ui/#/keys`);
    await noSeriousViolations(page, 'sign in');
    await screenshot(page, 'sign-in');
    await signInWithToken(page, 'kw-not-a-real-token');
    const alert = await visible(page.getByRole('alert'));
    expect(await alert.innerText()).toContain('UnrecognizedClientException');
    await visible(page.getByRole('heading', { name: 'Sign in' }));
    expect(await page.getByRole('link', { name: 'Principals' }).count()).toBe(0);
    await page.context().close();
  });

  it('creates a user principal (credentials shown once) who then signs with SigV4 and sees no control actions', { timeout: 180_000 }, async () => {
    const adminPage = await newPage();
    await adminPage.goto(`${t.url}/ui/#/principals`);
    await signInWithToken(adminPage, admin.token);
    await (await visible(adminPage.getByLabel('Name', { exact: true }))).fill('console-reader');
    await adminPage.getByLabel('Role', { exact: true }).selectOption('user');
    await adminPage.getByRole('button', { name: 'Create principal' }).click();
    const accessKeyId = (await textOf(adminPage.getByTestId('new-access-key-id'))).trim();
    const secret = (await textOf(adminPage.getByTestId('new-secret'))).trim();
    await visible(adminPage.getByRole('cell', { name: 'console-reader', exact: true }));
    await noSeriousViolations(adminPage, 'principals');
    await screenshot(adminPage, 'principals');
    await adminPage.getByRole('button', { name: 'I have saved them: hide' }).click();
    await pollUntil(() => adminPage.getByTestId('new-secret').count(), (n) => n === 0, 'the secret hidden', UI_TIMEOUT);

    // a narrow screen, an access key pair: every request is signed with SigV4 in the browser
    const page = await newPage(undefined, { width: 390, height: 844 });
    await page.goto(`${t.url}/ui/#/keys`);
    await page.getByLabel('Access key pair (SigV4)').check();
    await page.getByLabel('Access key id').fill(accessKeyId);
    await page.getByLabel('Secret access key').fill(secret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await visible(page.getByText('console-reader (user, tenant default)'));
    const row = await visible(page.getByRole('row').filter({ hasText: 'alias/console-test' }));
    expect(await page.getByRole('heading', { name: 'Create a key' }).count()).toBe(0);
    for (const hidden of ['Principals', 'Tenants', 'Audit log']) expect(await page.getByRole('link', { name: hidden }).count()).toBe(0);
    await noSeriousViolations(page, 'keys (user, narrow)');
    await screenshot(page, 'keys-narrow');
    await row.getByRole('link').click();
    await visible(page.getByTestId('version-2'));
    for (const action of ['Rotate now', 'Disable key', 'Schedule deletion', 'Destroy', 'Add alias', 'Add tag', 'Save description']) {
      expect(await page.getByRole('button', { name: action }).count(), action).toBe(0);
    }
    // and the server agrees: the same credentials may not rotate
    const refused = await callTarget(t.url, 'TrentService.RotateKeyOnDemand', { KeyId: 'alias/console-test' }, { accessKeyId, secretAccessKey: secret });
    expect(refused.body.__type).toBe('AccessDeniedException');
    await page.context().close();
    await adminPage.context().close();
  });

  it('ran without a CSP violation', () => {
    expect(cspErrors).toEqual([]);
  });
});
