/**
 * The image's `User` (`name`, `uid`, `name:group`, `uid:gid`) as numbers, from the image's own /etc/passwd and
 * /etc/group, as a kubelet's runtime resolves it: a name must be in the image; a numeric uid not in it runs with
 * gid 0. Pure: the caller reads the files from the container's root filesystem.
 */
export interface ProcessUser {
  uid: number;
  gid: number;
}

function table(text: string): string[][] {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
}

/** Resolves the image user; throws with a message naming the user when the image does not know it. */
export function resolveUser(user: string | undefined, passwd: string, group: string): ProcessUser {
  const spec = (user ?? '').trim();
  if (!spec) return { uid: 0, gid: 0 };
  const [who, grp] = spec.split(':', 2);
  const users = table(passwd);
  let uid: number;
  let gid: number;
  if (/^\d+$/.test(who)) {
    uid = Number(who);
    const entry = users.find((u) => Number(u[2]) === uid);
    gid = entry ? Number(entry[3]) : 0;
  } else {
    const entry = users.find((u) => u[0] === who);
    if (!entry) throw new Error(`the image runs as user '${who}', which its /etc/passwd does not have`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  }
  if (grp !== undefined && grp !== '') {
    if (/^\d+$/.test(grp)) gid = Number(grp);
    else {
      const g = table(group).find((e) => e[0] === grp);
      if (!g) throw new Error(`the image runs as group '${grp}', which its /etc/group does not have`);
      gid = Number(g[2]);
    }
  }
  return { uid, gid };
}
