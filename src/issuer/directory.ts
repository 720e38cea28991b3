// The issuer as the organisation's OpenID Connect relying party (spec/admission.md §3.5):
// discovery from the directory's issuer URL, the authorization code flow with PKCE (S256),
// state and nonce, a confidential client, and the refresh grant that asks the directory at
// each batch whether the member is still enabled. openid-client does the protocol and checks
// the ID token's claims (iss, aud, exp, iat, nonce); jose checks its signature against the
// directory's published keys (JWKS), so a token is trusted only if the directory signed it.
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { AdmissionError } from '../admission/index.js';

export interface DirectoryOptions {
  /** The directory's issuer URL (discovery at /.well-known/openid-configuration). */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Where the directory sends members back: the issuer's public URL + /callback. */
  readonly callbackUrl: string;
  /** Default "openid offline_access": a refresh token is what lets the issuer re-check a member. */
  readonly scope?: string;
  /** Plain http to the directory: loopback tests only. */
  readonly allowHttp?: boolean;
}

/** What the issuer keeps between /login and /callback (§3.5): secret, ten minutes at most. */
export interface PendingLogin { readonly state: string; readonly nonce: string; readonly codeVerifier: string }

export interface DirectoryGrant { readonly sub: string; readonly refreshToken: string | undefined; readonly expiresAt: number | undefined }

const unavailable = (what: string, cause: unknown): AdmissionError =>
  new AdmissionError('ISSUER_UNAVAILABLE', `the directory could not be reached (${what})`, { cause });

/**
 * OAuth answers that say the member is not, or no longer, admitted (RFC 6749 §5.2 invalid_grant
 * for the code and refresh grants; §4.1.2.1 and OIDC Core §3.1.2.6 for the login). Any other
 * error (invalid_client, server_error, …) is the issuer's or the directory's trouble, not the
 * member's: ISSUER_UNAVAILABLE, and the member's session is kept.
 */
const REFUSALS = new Set(['invalid_grant', 'access_denied', 'login_required', 'interaction_required', 'consent_required', 'account_selection_required']);

function refusedOrUnavailable(what: 'code exchange' | 'refresh', e: unknown): AdmissionError {
  if (e instanceof AdmissionError) return e;
  const oauthError = e instanceof oidc.ResponseBodyError || e instanceof oidc.AuthorizationResponseError ? e.error : undefined;
  if (oauthError !== undefined && REFUSALS.has(oauthError)) {
    return new AdmissionError('ADMISSION_REFUSED', `the directory refused the member (${oauthError})`, { cause: e });
  }
  // At login, an answer that fails openid-client's checks (state, nonce, claims) makes no
  // session whatever its cause: the member is told no. At a refresh it keeps the session.
  const code = (e as { code?: unknown }).code;
  if (what === 'code exchange' && oauthError === undefined && typeof code === 'string' && code.startsWith('OAUTH_') && code !== 'OAUTH_WWW_AUTHENTICATE_CHALLENGE') {
    return new AdmissionError('ADMISSION_REFUSED', `the directory's answer did not pass the checks (${code})`, { cause: e });
  }
  return unavailable(oauthError === undefined ? what : `${what}: ${oauthError}`, e);
}

export class Directory {
  private constructor(
    private readonly config: oidc.Configuration,
    private readonly jwks: JWTVerifyGetKey,
    private readonly options: DirectoryOptions,
  ) {}

  static async discover(options: DirectoryOptions): Promise<Directory> {
    const execute = options.allowHttp === true ? [oidc.allowInsecureRequests] : [];
    let config: oidc.Configuration;
    try {
      config = await oidc.discovery(new URL(options.issuer), options.clientId, { redirect_uris: [options.callbackUrl] },
        oidc.ClientSecretBasic(options.clientSecret), { execute });
    } catch (e) { throw unavailable('discovery', e); }
    const jwksUri = config.serverMetadata().jwks_uri;
    if (jwksUri === undefined) throw new AdmissionError('INVALID_ARGUMENT', 'the directory publishes no jwks_uri');
    return new Directory(config, createRemoteJWKSet(new URL(jwksUri)), options);
  }

  /** A fresh state, nonce and PKCE verifier, and the authorization URL that carries them. */
  async begin(): Promise<{ pending: PendingLogin; url: URL }> {
    const pending = { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier: oidc.randomPKCECodeVerifier() };
    const url = oidc.buildAuthorizationUrl(this.config, {
      redirect_uri: this.options.callbackUrl,
      scope: this.options.scope ?? 'openid offline_access',
      response_type: 'code',
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
    });
    return { pending, url };
  }

  /**
   * Exchanges the code of the directory's redirect (the query of the callback) for tokens,
   * checks state, PKCE, nonce and the ID token (claims by openid-client, signature by jose).
   * ADMISSION_REFUSED if the directory said no or anything fails its check.
   */
  async finish(query: URLSearchParams, pending: PendingLogin): Promise<DirectoryGrant> {
    // openid-client takes the redirect_uri of the token request from this URL: it must be ours.
    const currentUrl = new URL(this.options.callbackUrl);
    currentUrl.search = query.toString();
    let tokens;
    try {
      tokens = await oidc.authorizationCodeGrant(this.config, currentUrl, {
        pkceCodeVerifier: pending.codeVerifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true,
      });
    } catch (e) { throw refusedOrUnavailable('code exchange', e); }
    const sub = await this.verifyIdToken(tokens.id_token);
    return { sub, refreshToken: tokens.refresh_token, expiresAt: undefined };
  }

  /**
   * The refresh grant (§3.5): the directory answers only while the member's account is enabled.
   * Returns the (possibly rotated) refresh token; ADMISSION_REFUSED if the directory refused,
   * or if its new ID token names another subject.
   */
  async recheck(sub: string, refreshToken: string): Promise<string> {
    let tokens;
    try { tokens = await oidc.refreshTokenGrant(this.config, refreshToken); } catch (e) { throw refusedOrUnavailable('refresh', e); }
    if (tokens.id_token !== undefined && (await this.verifyIdToken(tokens.id_token)) !== sub) {
      throw new AdmissionError('ADMISSION_REFUSED', 'the directory answered for another subject');
    }
    return tokens.refresh_token ?? refreshToken;
  }

  private async verifyIdToken(idToken: string | undefined): Promise<string> {
    if (idToken === undefined) throw new AdmissionError('ADMISSION_REFUSED', 'the directory sent no ID token');
    try {
      const { payload } = await jwtVerify(idToken, this.jwks, { issuer: this.config.serverMetadata().issuer, audience: this.options.clientId });
      if (typeof payload.sub !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(payload.sub)) {
        throw new AdmissionError('ADMISSION_REFUSED', 'the ID token\'s subject is not 1-255 printable ASCII characters');
      }
      return payload.sub;
    } catch (e) {
      if (e instanceof AdmissionError) throw e;
      throw new AdmissionError('ADMISSION_REFUSED', `the ID token does not verify (${(e as { code?: string }).code ?? 'invalid'})`, { cause: e });
    }
  }
}
