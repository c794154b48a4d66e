export { SecretText } from '../../format/secret-text.js';
