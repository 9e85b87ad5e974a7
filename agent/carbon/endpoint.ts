/**
 * Where a provider that holds the user's credentials may send them (issue 12, finding 3). A base-URL
 * override (`chase.carbon.apiBaseUrl`, the CLI's `--base-url`) redirects the key with every request:
 *
 *  - the provider's own host over https is always allowed;
 *  - another host only when the override was set by the user (user settings, the command line),
 *    never by a workspace's .vscode/settings.json — a cloned repository must not be able to collect
 *    the keys of whoever opens it, trusted or not;
 *  - plain http:// only to this machine (127.0.0.0/8, ::1, localhost), whoever set it: anywhere else
 *    the network would see the key.
 *
 * The extension reports who set the URL (CarbonSettings.baseUrlSetBy); this is the last line, so a
 * client that forgets to say counts as "not the user".
 */
import type { SettingOrigin } from '../protocol/messages';
import { isLoopbackHost, parseBaseUrl } from './http';
import { CarbonSourceError } from './provider';

export interface CredentialedEndpoint {
  /** e.g. "Electricity Maps". */
  service: string;
  /** What is at stake, for the message: "API token", "username and password". */
  credential: string;
  /** The provider's own base URL (https). */
  officialUrl: string;
  /** The override, if any. */
  baseUrl?: string;
  setBy?: SettingOrigin;
}

/** The base URL to send the credentials to, or a CarbonSourceError ('invalid-settings') that says what to change. */
export function credentialedBaseUrl(e: CredentialedEndpoint): string {
  if (!e.baseUrl) return e.officialUrl;
  const url = parseBaseUrl(e.service, e.baseUrl);
  const official = new URL(e.officialUrl);
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new CarbonSourceError(
      `${e.service}: Chase does not send your ${e.credential} over plain http:// to ${url.host} (chase.carbon.apiBaseUrl), where the network could read it. Use an https:// URL, or a proxy on this machine (http://127.0.0.1:PORT/…).`,
      'invalid-settings',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CarbonSourceError(`${e.service}: chase.carbon.apiBaseUrl must be an https:// URL (got ${url.protocol}).`, 'invalid-settings');
  }
  const ownHost = url.protocol === 'https:' && url.host === official.host;
  if (ownHost || e.setBy === 'user') return e.baseUrl;
  const why =
    e.setBy === 'workspace'
      ? "is set by this workspace's settings (.vscode/settings.json)"
      : 'was not marked as set by you';
  const fix = e.setBy === 'workspace' ? 'Remove it from the workspace settings, or set it in your User settings if you trust that host.' : 'Set it in your User settings (or pass --base-url to chase-agent) if you trust that host.';
  throw new CarbonSourceError(
    `${e.service}: chase.carbon.apiBaseUrl (${url.host}) ${why}, and Chase sends your ${e.credential} only to ${official.host} or to a URL from your user settings. ${fix}`,
    'invalid-settings',
  );
}
