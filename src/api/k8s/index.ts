export { buildK8sKmsServer, startK8sKmsPlugin, k8sKmsService, K8S_KMS_SERVICE, API_VERSION, KEY_ARN_ANNOTATION, type K8sKmsOptions } from './plugin.js';
