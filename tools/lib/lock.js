// tools/lib/lock.js: an exclusive lock on a file one process appends to (a shard's records, tools/eval.js):
// FILE.lock, created with O_EXCL ('wx'), holds the holder's pid, host, pid namespace and start time. A second
// process fails at once, naming the holder. A holder on this host (and pid namespace) that is dead — kill(pid, 0)
// finds no such process — left a stale lock, which is taken over, saying so; one on another host cannot be
// checked from here, so the message says to delete it. The holder removes it on exit: normal, error, SIGINT,
// SIGTERM (a SIGKILL, an OOM kill or a lost machine leave it behind). Its mtime is touched at each record block.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, readlinkSync, renameSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { UsageError } from './cli.js';

/** The lock file of `file`. */
export const lockPath = (file) => `${file}.lock`;

// This process's pid namespace (Linux): two containers may share a host name but not a namespace.
function pidNamespace() {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return null;
  }
}

/** What a lock file says: { pid, host, pidns, started, token, command }, or null when it is gone; a lock whose
 * text is not that (a holder killed between creating and writing it) reads as { unreadable: true }. */
export function readLock(path) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw e;
  }
  try {
    const h = JSON.parse(text);
    if (!Number.isInteger(h.pid) || typeof h.host !== 'string') throw new Error('no pid and host');
    return { ...h, text };
  } catch {
    return { unreadable: true, text };
  }
}

// How long ago the lock was last touched, in words.
function ago(path) {
  try {
    const s = (Date.now() - statSync(path).mtimeMs) / 1000;
    return s < 120 ? `${Math.round(s)} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
  } catch {
    return '?';
  }
}

/** The holder in words: 'pid 123 on host h since 2026-…, last written 5 s ago'. */
export function describeHolder(path, holder) {
  if (holder.unreadable) return `an unreadable lock (${JSON.stringify(holder.text.slice(0, 60))}), last written ${ago(path)} ago`;
  return `pid ${holder.pid} on host ${holder.host} since ${holder.started}, last written ${ago(path)} ago`;
}

// Whether the holder runs in this host's pid namespace, and if so whether its pid is alive.
function holderState(holder) {
  if (holder.unreadable || holder.host !== hostname() || (holder.pidns ?? null) !== pidNamespace()) return 'elsewhere';
  try {
    process.kill(holder.pid, 0);
    return 'alive';
  } catch (e) {
    return e.code === 'EPERM' ? 'alive' : 'dead'; // EPERM: it exists, under another user
  }
}

/**
 * Takes the lock of `file` or throws UsageError saying who holds it and what to do; `what` names the work in
 * messages ('shard 2/8'), `log` writes a line to stderr. Returns { path, touch(), release() }; release runs on
 * exit, SIGINT and SIGTERM too (then the process exits 130 / 143).
 */
export function acquireLock(file, { what, log }) {
  const path = lockPath(file);
  const me = { pid: process.pid, host: hostname(), pidns: pidNamespace(), started: new Date().toISOString(),
    token: randomBytes(8).toString('hex'), command: process.argv.slice(1).join(' ') };
  const text = `${JSON.stringify(me)}\n`;
  const create = () => {
    const fd = openSync(path, 'wx');
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  };
  let tookOver = false;
  for (let attempt = 0; ; attempt++) {
    if (attempt === 5) throw new UsageError(`${path}: other processes keep taking and releasing this lock; rerun this command`);
    try {
      create();
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    const holder = readLock(path);
    if (holder === null) continue; // released between our two calls: try again
    const state = holderState(holder);
    const held = `${what} is being evaluated by another process: ${path} is held by ${describeHolder(path, holder)}`;
    if (state === 'alive') {
      throw new UsageError(`${held}, and that process is running on this host. Two processes on one shard would ` +
        `write its records twice: wait for it or stop it (kill ${holder.pid}), then rerun this command; it resumes ` +
        `where that one stopped. (If pid ${holder.pid} is not a tools/eval.js, its holder died and the pid was reused: ` +
        `delete ${path}.)`);
    }
    if (state === 'elsewhere') {
      throw new UsageError(`${held}; this is host ${hostname()}${holder.host === hostname() ? ' (another container)' : ''}, ` +
        'which cannot see whether that process still runs. If it does, let it finish or stop it; if it is gone (a killed ' +
        `pod or job, a lost node), delete ${path} and rerun this command: it resumes after the last complete image.`);
    }
    if (tookOver) throw new UsageError(`${held}: another process is taking over this stale lock at the same time; rerun this command`);
    tookOver = true;
    // dead on this host: move the stale lock aside, check it is the one we read (not a lock just taken), drop it
    const aside = `${path}.stale-${me.token}`;
    try {
      renameSync(path, aside);
    } catch (e) {
      if (e.code === 'ENOENT') continue;
      throw e;
    }
    if (readFileSync(aside, 'utf8') !== holder.text) {
      try { linkSync(aside, path); } catch { /* another took it again: theirs stands */ }
      unlinkSync(aside);
      throw new UsageError(`${path}: another process took over the stale lock at the same time; rerun this command`);
    }
    unlinkSync(aside);
    log(`lock: ${path} was left by pid ${holder.pid} on this host (since ${holder.started}), which is no longer running: taken over`);
  }

  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    const now = readLock(path);
    if (now && now.token === me.token) unlinkSync(path);
    else log(`lock: ${path} is no longer this process's (${now ? describeHolder(path, now) : 'deleted'}); left as it is`);
  };
  const stop = (signal, code) => {
    release();
    log(`${signal}: stopped, the lock released (rerun the command to resume)`);
    process.exit(code);
  };
  const onSigint = () => stop('SIGINT', 130);
  const onSigterm = () => stop('SIGTERM', 143);
  process.on('exit', release);
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  const touch = () => {
    const t = new Date();
    try { utimesSync(path, t, t); } catch { /* deleted under us: release says so */ }
  };
  return { path, touch, release };
}
