export { KeywardClient, credentialsFromEnv, type KeywardClientOptions, type Credentials, type EncryptionContext } from './keyward-client.js';
export { KeywardApiError } from './errors.js';
