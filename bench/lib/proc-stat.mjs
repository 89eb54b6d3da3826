// A task's /proc stat (Linux): the fields from the 3rd (state) on, as an array of strings — the
// command name in parentheses may hold spaces, so the split starts after its closing ')'. Indexes
// below are into that array (the man page's field number minus 3).
import { readFileSync } from 'node:fs';

export const PPID = 1;
export const UTIME = 11;
export const STIME = 12;
export const CUTIME = 13;
export const CSTIME = 14;
/** Clock ticks a second (USER_HZ). */
export const TICKS = 100;

/** The fields of /proc/PID/stat, or of /proc/PID/task/TID/stat; throws if the task is gone. */
export function statFields(pid, tid = null) {
  const stat = readFileSync(tid === null ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU seconds of a task's own running (not its children's). */
export function cpuSecondsOf(fields) {
  return (Number(fields[UTIME]) + Number(fields[STIME])) / TICKS;
}
