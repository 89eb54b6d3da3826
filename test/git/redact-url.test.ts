/** Credentials in repository URLs are removed from every name and message. */
import { describe, expect, it } from 'vitest';
import { isRemoteUrl, redactUrl, stripCredentials } from '../../src/git/redact-url.js';
import { GitError } from '../../src/git/git-error.js';

describe('redactUrl', () => {
  it('hides user and password, or a bare token', () => {
    expect(redactUrl('https://user:token@github.com/org/repo.git')).toBe('https://***@github.com/org/repo.git');
    expect(redactUrl('https://ghp_abc123@github.com/org/repo.git')).toBe('https://***@github.com/org/repo.git');
    expect(redactUrl('ssh://git:pw@host:2222/repo')).toBe('ssh://***@host:2222/repo');
  });

  it('leaves URLs without credentials and scp-like git@host:path alone', () => {
    expect(redactUrl('https://github.com/org/repo.git')).toBe('https://github.com/org/repo.git');
    expect(redactUrl('git@github.com:org/repo.git')).toBe('git@github.com:org/repo.git');
    expect(redactUrl('/srv/repos/stacks')).toBe('/srv/repos/stacks');
  });

  it('redacts URLs quoted inside messages, several at once', () => {
    const stderr = "fatal: unable to access 'https://bot:s3cret@git.example.com/x.git/': 403\nfrom http://a:b@c/d";
    expect(redactUrl(stderr)).toBe("fatal: unable to access 'https://***@git.example.com/x.git/': 403\nfrom http://***@c/d");
  });

  it('keeps @ signs in paths after the host', () => {
    expect(redactUrl('https://host/org/@scope/repo')).toBe('https://host/org/@scope/repo');
  });

  it('GitError messages are always redacted', () => {
    expect(new GitError('REMOTE_UNREACHABLE', 'cannot fetch https://u:p@h/r').message).toBe('cannot fetch https://***@h/r');
  });
});

describe('stripCredentials and isRemoteUrl', () => {
  it('strip userinfo entirely', () => {
    expect(stripCredentials('https://u:p@h/r.git')).toBe('https://h/r.git');
  });

  it('tell URLs from local paths', () => {
    for (const url of ['file:///srv/r.git', 'https://h/r', 'ssh://git@h/r', 'git@github.com:org/r.git']) expect(isRemoteUrl(url)).toBe(true);
    for (const path of ['/srv/r', './stacks', 'stacks.example', 'C:/x', 'dir/with:colon']) expect(isRemoteUrl(path)).toBe(false);
  });
});
