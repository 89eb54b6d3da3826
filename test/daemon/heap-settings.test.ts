/** serve's V8 setting (issue 16, finding F5): applied unless the process was started with an explicit choice. */
import { describe, expect, it } from 'vitest';
import { useDaemonHeapSettings } from '../../src/daemon/heap-settings.js';

describe('useDaemonHeapSettings', () => {
  it('leaves an explicit --optimize-for-size or --no-optimize-for-size alone (command line or NODE_OPTIONS)', () => {
    expect(useDaemonHeapSettings({}, ['--optimize-for-size'])).toBe(false);
    expect(useDaemonHeapSettings({}, ['--no-optimize-for-size'])).toBe(false);
    expect(useDaemonHeapSettings({ NODE_OPTIONS: '--max-old-space-size=512 --no-optimize-for-size' }, [])).toBe(false);
    expect(useDaemonHeapSettings({ NODE_OPTIONS: '--optimize_for_size' }, [])).toBe(false);
  });

  it('applies V8 memory-over-speed mode otherwise (other flags do not count as a choice)', () => {
    expect(useDaemonHeapSettings({ NODE_OPTIONS: '--max-old-space-size=512' }, ['--enable-source-maps'])).toBe(true);
  });
});
