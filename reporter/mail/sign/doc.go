// Package sign signs a built report: it takes the complete RFC 5322 bytes
// that reporter/mail builds (CRLF, quoted-printable or base64 parts) and
// returns new bytes that the SMTP transport sends unchanged, so a
// signature verifies on exactly what the receiving server gets.
//
//	PGPMIME(raw, entity, created)    multipart/signed, RFC 3156
//	Clearsign(raw, entity, created)  inline: the text clearsigned, each
//	                                 attachment followed by its .asc
//	SMIME(raw, cert, key, chain)     multipart/signed, RFC 8551
//	DKIM(raw, options, created)      a DKIM-Signature field, RFC 6376
//
// DKIM goes last: it signs the outer header fields and the body as they
// will be sent, which the other three change.
//
// A Signer holds the keys and does both steps: Sign(raw, method, created)
// applies the contact's Method (none, pgp-mime, pgp-inline, smime), then
// DKIM when configured; Check(method) tells at start whether the key for
// a method is there. LoadPGPKey, LoadSMIME and LoadDKIMKey read the keys
// (armored OpenPGP with an optional passphrase file; PEM certificates and
// keys) with errors that name the file, so that a bad key stops
// check-config rather than the first report.
//
// OpenPGP and DKIM signing are pure functions of their inputs: the
// signing time is a parameter (pass the report's creation time) and every
// boundary derives from the Message-ID, so a resend of a report signs to
// the same bytes. S/MIME keeps the structure but not the signature bytes:
// the CMS library stamps the wall clock into it.
//
// What a relay could change is refused before signing (ErrNotCRLF,
// ErrNot7bit): a signature that breaks on the way is worse than none. All
// errors are permanent; retrying the same bytes fails the same way.
package sign
