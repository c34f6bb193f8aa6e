/**
 * Image references as users write them (`python:3.11-slim`, `localhost:5000/team/steps@sha256:…`), normalised the way
 * Docker does: no registry host → Docker Hub, one-part name on Docker Hub → `library/<name>`, no tag → `latest`.
 */

export interface ImageRef {
  /** Registry host as written (`localhost:5000`, `ghcr.io`), `docker.io` for Docker Hub. */
  registry: string;
  /** Repository path inside the registry, e.g. `library/python`. */
  repository: string;
  tag?: string;
  /** `sha256:<hex>` when the reference pins a digest. */
  digest?: string;
}

const DOCKER_HUB = 'docker.io';

/** Parses `[host[:port]/]path[:tag][@sha256:hex]`; throws with a message naming the reference when it is malformed. */
export function parseImageRef(text: string): ImageRef {
  const input = text.trim();
  if (!input) throw new Error('image reference is empty — write e.g. python:3.11-slim or localhost:5000/team/base:1');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) {
      throw new Error(`image reference '${input}': digest '${digest}' is not sha256:<64 hex digits>`);
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!/^[\w][\w.-]{0,127}$/.test(tag)) throw new Error(`image reference '${input}': tag '${tag}' is not a valid tag`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  if (parts.length > 1 && (parts[0].includes('.') || parts[0].includes(':') || parts[0] === 'localhost')) {
    registry = parts.shift()!;
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  let repository = parts.join('/');
  if (!repository || !/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(repository)) {
    throw new Error(
      `image reference '${input}': repository '${repository}' must be lowercase letters, digits and . _ - separated by /`,
    );
  }
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (!tag && !digest) tag = 'latest';
  return { registry, repository, tag, digest };
}

/** The host the HTTP API of a registry answers on (Docker Hub's API is not at docker.io). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

/** `host/repo:tag`, `host/repo@digest` (digest wins when both are set). */
export function formatImageRef(ref: ImageRef): string {
  const name = `${ref.registry}/${ref.repository}`;
  if (ref.digest) return `${name}@${ref.digest}`;
  return `${name}:${ref.tag ?? 'latest'}`;
}

/**
 * Parses the `--registry HOST[:PORT]/REPO` target of `cellpipe build`: a repository (no tag, no digest) on a
 * registry that must be named explicitly.
 */
export function parseRepository(text: string): { registry: string; repository: string } {
  const slash = text.indexOf('/');
  if (slash <= 0) {
    throw new Error(`--registry '${text}': write HOST[:PORT]/REPOSITORY, e.g. localhost:5000/cellpipe/steps`);
  }
  const ref = parseImageRef(text);
  if (ref.digest || (ref.tag && ref.tag !== 'latest') || text.endsWith(':latest')) {
    throw new Error(`--registry '${text}': give a repository without tag or digest (cellpipe chooses the tags)`);
  }
  if (ref.registry === DOCKER_HUB && !text.startsWith('docker.io/')) {
    throw new Error(`--registry '${text}': the first part must be a registry host (with a dot or a port), e.g. localhost:5000/${text}`);
  }
  return { registry: ref.registry, repository: ref.repository };
}
