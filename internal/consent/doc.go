// Package consent closes the partner's onboarding loop: it signs the state that
// `mdegate consent-url` puts into admin-consent links (Signer), and serves the page Entra
// redirects the customer's admin to afterwards (Handler, at /consent/callback). The page
// checks the state, fetches a token for the tenant at once, and tells the admin whether
// consent worked, which of the expected roles were granted, and what to do next, including
// the YAML lines to add for a tenant not yet in the configuration.
//
// The page is public: it is reached by customers' admins over the internet. It names no tenant
// but the one in Entra's redirect and the alias in the (signed) state, shows nothing at all
// for a missing, forged or expired state, escapes whatever Entra's redirect carries, and is
// rate-limited per client address and overall.
package consent
