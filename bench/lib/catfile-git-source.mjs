// EXPERIMENT (not used for the reported figures): a GitSource that answers the steady-state
// reads of an incremental sync through long-lived `git cat-file` processes instead of spawning
// git five or six times per pass. spawn() forks the daemon, and fork's cost grows with the
// daemon's RSS; this measures what the sync would cost without it (`--experiment catfile` on
// bench/incremental.mjs). Everything it does not cover is delegated to the product's GitSource.
import { load } from './product.mjs';

const { CatFileProcess } = await load('git/cat-file-process.js');

/** Parse a raw tree object: `<mode> <name>\0<raw oid>` entries. */
function parseTree(body, oidBytes) {
  const entries = [];
  let i = 0;
  while (i < body.length) {
    const space = body.indexOf(0x20, i);
    const nul = body.indexOf(0, space);
    const mode = body.toString('latin1', i, space).padStart(6, '0');
    const name = body.toString('utf8', space + 1, nul);
    const oid = body.toString('hex', nul + 1, nul + 1 + oidBytes);
    i = nul + 1 + oidBytes;
    const type = mode === '040000' ? 'tree' : mode === '160000' ? 'commit' : 'blob';
    entries.push({ mode, name, oid, type });
  }
  return entries;
}

/** Parse a raw commit object into the product's GitCommit. */
function parseCommit(sha, body) {
  const text = body.toString('utf8');
  const split = text.indexOf('\n\n');
  const headers = text.slice(0, split).split('\n');
  const message = split >= 0 ? text.slice(split + 2) : '';
  const parents = [];
  let author = { name: '', email: '' };
  let committed = 0;
  for (const h of headers) {
    if (h.startsWith('parent ')) parents.push(h.slice(7));
    else if (h.startsWith('author ')) {
      const m = /^author (.*) <(.*)> (\d+) [+-]\d{4}$/.exec(h);
      if (m) author = { name: m[1], email: m[2] };
    } else if (h.startsWith('committer ')) {
      const m = / (\d+) [+-]\d{4}$/.exec(h);
      if (m) committed = Number(m[1]);
    }
  }
  // %s: the first paragraph with its lines joined by spaces.
  const subject = message.split('\n\n')[0].trim().split('\n').join(' ');
  return { sha, parents, author_name: author.name, author_email: author.email, subject, committed_at: new Date(committed * 1000).toISOString() };
}

export class CatFileGitSource {
  #inner;
  #objects;
  #infos;
  constructor(inner, cwd) {
    this.#inner = inner;
    this.displayName = inner.displayName;
    this.#objects = new CatFileProcess(cwd, 'batch');
    this.#infos = new CatFileProcess(cwd, 'batch-check');
  }
  fetch() {
    return this.#inner.fetch();
  }
  currentBranch() {
    return this.#inner.currentBranch();
  }
  async resolveBranch(branch) {
    const { header } = await this.#infos.request(`refs/heads/${branch}^{commit}`);
    return header ? header.oid : null;
  }
  async #read(name) {
    const { header, body } = await this.#objects.request(name);
    if (!header) throw new Error(`object ${name} not found`);
    return { header, body };
  }
  async getCommit(sha) {
    const { body } = await this.#read(sha);
    return parseCommit(sha, body);
  }
  /** First-parent walk from `descendant` (bounded); beyond the bound, ask the product's source. */
  async #firstParentChain(from, to, limit = 64) {
    const chain = [];
    let cur = to;
    while (chain.length < limit) {
      if (cur === from) return chain.reverse();
      const commit = await this.getCommit(cur);
      chain.push(commit);
      if (commit.parents.length === 0) return null;
      cur = commit.parents[0];
    }
    return null;
  }
  async isAncestor(ancestor, descendant) {
    if ((await this.#firstParentChain(ancestor, descendant)) !== null) return true;
    return this.#inner.isAncestor(ancestor, descendant);
  }
  async listFirstParentCommits(from, to) {
    return (await this.#firstParentChain(from, to)) ?? this.#inner.listFirstParentCommits(from, to);
  }
  treeId(commit, dir) {
    return this.#inner.treeId(commit, dir);
  }
  async #walk(treeOid, prefix, out) {
    const { body, header } = await this.#read(treeOid);
    const entries = parseTree(body, header.oid.length / 2);
    const subtrees = [];
    for (const e of entries) {
      const path = prefix === '' ? e.name : `${prefix}/${e.name}`;
      if (e.type === 'tree') subtrees.push(this.#walk(e.oid, path, out));
      else out.push({ path, mode: e.mode, type: e.type, oid: e.oid });
    }
    await Promise.all(subtrees);
  }
  async listTree(commit, dir = '') {
    const tree = await this.treeId(commit, dir);
    if (tree === null) return [];
    const out = [];
    await this.#walk(tree, dir, out);
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
  async #diff(a, b, prefix, out) {
    const [ta, tb] = await Promise.all([a ? this.#read(a) : null, b ? this.#read(b) : null]);
    const ea = ta ? parseTree(ta.body, ta.header.oid.length / 2) : [];
    const eb = tb ? parseTree(tb.body, tb.header.oid.length / 2) : [];
    const byName = new Map(ea.map((e) => [e.name, [e, null]]));
    for (const e of eb) byName.set(e.name, [byName.get(e.name)?.[0] ?? null, e]);
    const subs = [];
    for (const [name, [x, y]] of byName) {
      if (x && y && x.oid === y.oid && x.mode === y.mode) continue;
      const path = prefix === '' ? name : `${prefix}/${name}`;
      const xt = x?.type === 'tree' ? x : null;
      const yt = y?.type === 'tree' ? y : null;
      if (xt || yt) subs.push(this.#diff(xt?.oid ?? null, yt?.oid ?? null, path, out));
      const xb = x && x.type !== 'tree' ? x : null;
      const yb = y && y.type !== 'tree' ? y : null;
      if (xb && yb) {
        const typeChanged = (xb.mode === '120000') !== (yb.mode === '120000') || xb.type !== yb.type;
        out.push({ path, status: typeChanged ? 'T' : 'M', oldOid: xb.oid, newOid: yb.oid, oldMode: xb.mode, newMode: yb.mode });
      } else if (xb) out.push({ path, status: 'D', oldOid: xb.oid, newOid: null, oldMode: xb.mode, newMode: null });
      else if (yb) out.push({ path, status: 'A', oldOid: null, newOid: yb.oid, oldMode: null, newMode: yb.mode });
    }
    await Promise.all(subs);
  }
  async diffTrees(from, to) {
    if (from === null) return this.#inner.diffTrees(from, to);
    const [a, b] = await Promise.all([this.treeId(from, ''), this.treeId(to, '')]);
    const out = [];
    await this.#diff(a, b, '', out);
    return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  }
  readBlobs(oids, maxBytes) {
    return this.#inner.readBlobs(oids, maxBytes);
  }
  async close() {
    await Promise.all([this.#objects.close(), this.#infos.close(), this.#inner.close()]);
  }
}
