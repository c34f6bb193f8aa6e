/**
 * Non-secret environment variables of steps: `env:NAME=value` on a step's cell and `metadata.cellpipe.env` (a
 * mapping) for every step. They end up in notebooks, specs and run records, so a value that looks like a
 * credential is refused and the user pointed at `secret:`, which keeps the value in a Kubernetes secret.
 */

/** POSIX shell variable names, what Kubernetes and every shell accept without quoting. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Names cellpipe sets itself in every step. */
const RESERVED = /^CELLPIPE_/;

/** Names that say they hold a credential: `…TOKEN`, `…PASSWORD`, `…SECRET`, `…KEY`, `…CREDENTIALS`. */
const SECRET_NAME = /(TOKEN|PASSWORD|PASSWD|SECRET|KEY|CREDENTIALS?|APIKEY)$|PASSWORD|SECRET/i;

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
];

/** A problem with one variable: what is wrong and what to do. */
export interface EnvProblem {
  code: 'invalid-env' | 'secret-in-env';
  message: string;
  hint: string;
}

const SECRET_HINT = (name: string) =>
  `keep credentials out of the notebook: put the value in a Kubernetes secret and tag the step secret:<secret name>:<key>:${ENV_NAME.test(name) ? name : 'ENV_VAR'} ` +
  `(local runs read ${ENV_NAME.test(name) ? name : 'it'} from the environment cellpipe runs in)`;

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
  if (SECRET_NAME.test(name)) {
    return { code: 'secret-in-env', message: `'${name}' is named like a credential, and env values are stored in the notebook, the pipeline spec and run records`, hint: SECRET_HINT(name) };
  }
  for (const [pattern, what] of SECRET_VALUES) {
    if (pattern.test(value)) {
      return { code: 'secret-in-env', message: `the value of '${name}' looks like ${what}, and env values are stored in the notebook, the pipeline spec and run records`, hint: SECRET_HINT(name) };
    }
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
