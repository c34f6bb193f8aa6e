/**
 * Non-secret environment variables of steps: `env:NAME=value` on a step's cell and `metadata.cellpipe.env` (a
 * mapping) for every step. They end up in notebooks, specs and run records, so a value that looks like a
 * credential is refused and the user pointed at `secret:`, which keeps the value in a Kubernetes secret.
 */

/** POSIX shell variable names, what Kubernetes and every shell accept without quoting. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Names cellpipe sets itself in every step. */
const RESERVED = /^CELLPIPE_/;

/** Names that say they hold a credential: a word `PASS`, `TOKEN`, `KEY`, `AUTH`…(`DB_PASS`, `TOKEN_FILE`,
 *  `API_KEY_ID`), a name ending in one (`GITHUBTOKEN`, `APIKEY`), or `PASSWORD`/`SECRET`/`CREDENTIAL` anywhere.
 *  Words are split at `_` and at lowercase-to-uppercase steps (`dbPass`), so `TOKENIZER` or `COMPASS` pass. */
const SECRET_WORDS = new Set(['PASS', 'PASSWD', 'PASSWORD', 'PASSPHRASE', 'PASSWORDS', 'TOKEN', 'TOKENS', 'SECRET', 'SECRETS',
  'KEY', 'KEYS', 'APIKEY', 'CREDENTIAL', 'CREDENTIALS', 'CREDS', 'AUTHTOKEN', 'PRIVATEKEY', 'ACCESSKEY']);
const SECRET_NAME_ANYWHERE = /PASSWORD|PASSWD|PASSPHRASE|SECRET|CREDENTIAL|(TOKEN|KEY)$/i;

function namedLikeCredential(name: string): boolean {
  if (SECRET_NAME_ANYWHERE.test(name)) return true;
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase().split('_');
  return words.some((w) => SECRET_WORDS.has(w));
}

/** Values shaped like well-known credentials. */
const SECRET_VALUES: [RegExp, string][] = [
  [/\b(AKIA|ASIA)[A-Z0-9]{16}\b/, 'an AWS access key id'],
  [/\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+/, 'a JSON Web Token'],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/, 'a GitHub token'],
  [/\bgithub_pat_[A-Za-z0-9_]{20,}/, 'a GitHub token'],
  [/\bglpat-[A-Za-z0-9_-]{20,}/, 'a GitLab token'],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}/, 'a Slack token'],
  [/\bsk-[A-Za-z0-9_-]{20,}/, 'an API secret key'],
  [/\bAIza[0-9A-Za-z_-]{35}/, 'a Google API key'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a private key'],
  [/[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, 'a URL with a password in it'],
  [/[a-z][a-z0-9+.-]*:\/\/[A-Za-z0-9._~-]{20,}@/i, 'a URL with a token in it'],
  [/[?&](access_token|auth|token|api_?key|key|password|passwd|secret|client_secret|sig|signature|x-amz-signature|x-amz-credential)=[^&\s#]+/i, 'a URL with a credential in its query'],
  [/(^|[;\s])(password|pwd|passwd)\s*=\s*[^;\s]+/i, 'a connection string with a password'],
];

/** `Bearer <token>`, or `Basic <base64 of user:password>` (so "basic settings" is not one), with or without
 *  `Authorization:` before it. */
function authorizationValue(value: string): boolean {
  const m = /^\s*(?:authorization:\s*)?(bearer|basic)\s+(\S+)\s*$/i.exec(value);
  if (!m) return false;
  if (m[1].toLowerCase() === 'bearer') return m[2].length >= 4;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(m[2])) return false;
  try {
    return atob(m[2]).includes(':');
  } catch {
    return false;
  }
}

/** A problem with one variable: what is wrong and what to do. */
export interface EnvProblem {
  code: 'invalid-env' | 'secret-in-env';
  message: string;
  hint: string;
}

const SECRET_HINT = (name: string) =>
  `keep credentials out of the notebook: put the value in a Kubernetes secret and tag the step secret:<secret name>:<key>:${ENV_NAME.test(name) ? name : 'ENV_VAR'} ` +
  `(local runs read ${ENV_NAME.test(name) ? name : 'it'} from the environment cellpipe runs in, or from the file CELLPIPE_SECRETS_FILE names)`;

/** Checks one variable; undefined when it may be used. */
export function checkEnvVar(name: string, value: string): EnvProblem | undefined {
  if (!ENV_NAME.test(name)) {
    return {
      code: 'invalid-env', message: `'${name}' is not a valid environment variable name`,
      hint: 'a name starts with a letter or _ and has only letters, digits and _, e.g. env:DATASET_URL=https://example.com/data.csv',
    };
  }
  if (RESERVED.test(name)) {
    return { code: 'invalid-env', message: `'${name}' is set by cellpipe itself in every step`, hint: 'choose a name that does not start with CELLPIPE_' };
  }
  if (namedLikeCredential(name)) {
    return { code: 'secret-in-env', message: `'${name}' is named like a credential, and env values are stored in the notebook, the pipeline spec and run records: use a secret: tag for it`, hint: SECRET_HINT(name) };
  }
  const what = authorizationValue(value) ? 'an HTTP Authorization value (Bearer/Basic …)' : SECRET_VALUES.find(([pattern]) => pattern.test(value))?.[1];
  if (what) {
    return { code: 'secret-in-env', message: `the value of '${name}' looks like ${what}, and env values are stored in the notebook, the pipeline spec and run records: use a secret: tag for it`, hint: SECRET_HINT(name) };
  }
  return undefined;
}

/** `NAME=value` (the part after `env:`) split at the first `=`; undefined when there is no `=` or no name. */
export function splitEnvAssignment(text: string): { name: string; value: string } | undefined {
  const eq = text.indexOf('=');
  if (eq <= 0) return undefined;
  return { name: text.slice(0, eq).trim(), value: text.slice(eq + 1) };
}

/** A mapping with its keys sorted, so specs and cache keys do not depend on the order variables were written. */
export function sortedEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
