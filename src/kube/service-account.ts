/** Where Kubernetes mounts a pod's service account (token, namespace, CA). A module of its own: no client import. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
