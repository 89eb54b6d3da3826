/** The git layer: the GitSource interface, its implementation over the real git, URL redaction and ref watching. */
export type * from './git-source.js';
export { openGitSource, cloneDirFor, type OpenGitSourceOptions } from './open-git-source.js';
export { GitError, GIT_ERROR_CODES, type GitErrorCode } from './git-error.js';
export { redactUrl, stripCredentials, isRemoteUrl } from './redact-url.js';
export { watchRefs, type RefWatcher } from './watch-refs.js';
