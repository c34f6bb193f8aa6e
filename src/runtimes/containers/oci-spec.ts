/**
 * The OCI runtime config (`config.json` of a runc bundle) for one step container, made the way a kubelet would
 * from the image config and the container spec. Pure.
 *
 * - Process: Kubernetes' rules — `command` replaces the image's Entrypoint and `args` its Cmd (a command without
 *   args drops the Cmd); env is the image's, then the container's (a later name wins), then secrets; working
 *   directory the image's (else `/`). No terminal: stdout and stderr are pipes the runner reads.
 * - Not privileged: Docker's default capability set, no new privileges, masked and read-only `/proc` paths, a
 *   small seccomp deny list (module loading, kexec, reboot, swap, clock and keyring calls), no devices beyond
 *   runc's defaults.
 * - Network: the host's (as a local step has; its resolv.conf and hosts are mounted read-only), or with
 *   `network: false` a namespace of its own with nothing in it.
 * - Mounts: only the given bind mounts (the step's artifact folders) beyond the standard kernel filesystems.
 */

export interface ImageRuntimeConfig {
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  User?: string;
}

export interface BindMount {
  /** Path inside the container. */
  destination: string;
  /** Host path. */
  source: string;
  readonly?: boolean;
}

export interface ContainerOptions {
  image: ImageRuntimeConfig;
  command?: string[];
  args?: string[];
  env?: { name: string; value: string }[];
  /** Secret values as env (already read by the runner; they go into the config file only, never a log). */
  secretEnv?: Record<string, string>;
  /** Bundle-relative or absolute path of the root filesystem. */
  rootfs: string;
  hostname: string;
  mounts?: BindMount[];
  /** Share the host's network (default true). */
  network?: boolean;
  /** Limits: memory in bytes, CPU in cores. */
  memoryBytes?: number;
  cpus?: number;
}

const CAPABILITIES = [
  'CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_MKNOD', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_RAW', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
];

const DENIED_SYSCALLS = [
  'add_key', 'clock_adjtime', 'clock_settime', 'delete_module', 'finit_module', 'init_module', 'kexec_file_load', 'kexec_load',
  'keyctl', 'reboot', 'request_key', 'settimeofday', 'swapoff', 'swapon',
];

/** The process argv under Kubernetes' command/args rules; throws when nothing is left to run. */
export function processArgs(image: ImageRuntimeConfig, command?: string[], args?: string[]): string[] {
  const entry = command?.length ? command : image.Entrypoint ?? [];
  const rest = args?.length ? args : command?.length ? [] : image.Cmd ?? [];
  const argv = [...entry, ...rest];
  if (!argv.length) throw new Error('the container has no command: the spec gives none and the image has no Entrypoint or Cmd');
  return argv;
}

/** Env as `NAME=value` lines: the image's, then the container's, then secrets; a later name replaces an earlier one. */
export function processEnv(image: ImageRuntimeConfig, env: { name: string; value: string }[] = [], secrets: Record<string, string> = {}): string[] {
  const out = new Map<string, string>();
  for (const line of image.Env ?? []) {
    const eq = line.indexOf('=');
    if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  for (const e of env) out.set(e.name, e.value);
  for (const [k, v] of Object.entries(secrets)) out.set(k, v);
  if (!out.has('PATH')) out.set('PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  return [...out].map(([k, v]) => `${k}=${v}`);
}

/** A numeric `uid[:gid]` from the image's User; names need the image's /etc/passwd, which the runner reads. */
export function numericUser(user: string | undefined): { uid: number; gid: number } | undefined {
  if (!user) return { uid: 0, gid: 0 };
  const m = /^(\d+)(?::(\d+))?$/.exec(user);
  return m ? { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) } : undefined;
}

export function runtimeConfig(o: ContainerOptions, user = numericUser(o.image.User) ?? { uid: 0, gid: 0 }): Record<string, unknown> {
  const network = o.network ?? true;
  const namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }];
  if (!network) namespaces.push({ type: 'network' });
  const mounts: Record<string, unknown>[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  ];
  if (network) {
    for (const f of ['/etc/resolv.conf', '/etc/hosts']) mounts.push({ destination: f, type: 'bind', source: f, options: ['rbind', 'ro', 'nosuid', 'nodev'] });
  }
  for (const m of o.mounts ?? []) {
    mounts.push({ destination: m.destination, type: 'bind', source: m.source, options: ['rbind', m.readonly ? 'ro' : 'rw', 'nosuid', 'nodev'] });
  }
  const resources: Record<string, unknown> = { devices: [{ allow: false, access: 'rwm' }] };
  if (o.memoryBytes) resources.memory = { limit: Math.round(o.memoryBytes) };
  if (o.cpus) resources.cpu = { quota: Math.max(1000, Math.round(o.cpus * 100_000)), period: 100_000 };
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user,
      args: processArgs(o.image, o.command, o.args),
      env: processEnv(o.image, o.env, o.secretEnv),
      cwd: o.image.WorkingDir || '/',
      capabilities: { bounding: CAPABILITIES, effective: CAPABILITIES, permitted: CAPABILITIES },
      noNewPrivileges: true,
    },
    root: { path: o.rootfs, readonly: false },
    hostname: o.hostname,
    mounts,
    linux: {
      namespaces,
      resources,
      seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: DENIED_SYSCALLS, action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] },
      maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats',
        '/proc/sched_debug', '/sys/firmware', '/proc/scsi'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}
