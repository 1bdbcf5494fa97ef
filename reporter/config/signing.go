package config

import "fmt"

// PGP names the OpenPGP key reports are signed with.
type PGP struct {
	KeyFile        string `yaml:"key_file"`        // armored private key
	PassphraseFile string `yaml:"passphrase_file"` // its first line, when the key is protected
}

// SMIME names the certificate and key for S/MIME.
type SMIME struct {
	CertFile string `yaml:"cert_file"` // the signing certificate first, then its issuers
	KeyFile  string `yaml:"key_file"`  // may be CertFile
}

// DKIM signs every mail for the From domain, after any other signature.
type DKIM struct {
	Domain   string   `yaml:"domain"`
	Selector string   `yaml:"selector"`
	KeyFile  string   `yaml:"key_file"`
	Expire   Duration `yaml:"expire"` // how long a signature is valid (x=); unset: no expiry
}

// signMethods are mail.sign's and contacts[].sign's values.
var signMethods = []string{"none", "pgp-mime", "pgp-inline", "smime"}

func (v *validator) signing() {
	m := &v.cfg.Mail
	check := func(key, method string) {
		for _, s := range signMethods {
			if s == method {
				return
			}
		}
		v.add(key, "%q is not a way to sign: %v", method, signMethods)
	}
	check("mail.sign", m.Sign)
	uses := map[string]string{m.Sign: "mail.sign"}
	for i, c := range v.cfg.Contacts {
		if c.Sign != "" {
			k := fmt.Sprintf("contacts[%d].sign", i)
			check(k, c.Sign)
			if _, ok := uses[c.Sign]; !ok {
				uses[c.Sign] = k
			}
		}
	}
	m.PGP.KeyFile, m.PGP.PassphraseFile = v.path(m.PGP.KeyFile), v.path(m.PGP.PassphraseFile)
	m.SMIME.CertFile, m.SMIME.KeyFile = v.path(m.SMIME.CertFile), v.path(m.SMIME.KeyFile)
	m.DKIM.KeyFile = v.path(m.DKIM.KeyFile)
	for method, key := range uses {
		switch method {
		case "pgp-mime", "pgp-inline":
			if m.PGP.KeyFile == "" {
				v.add("mail.pgp.key_file", "is required: %s asks for %s", key, method)
			}
		case "smime":
			if m.SMIME.CertFile == "" {
				v.add("mail.smime.cert_file", "is required: %s asks for smime", key)
			}
		}
	}
	for _, f := range []struct{ key, path string }{{"mail.pgp.key_file", m.PGP.KeyFile}, {"mail.pgp.passphrase_file", m.PGP.PassphraseFile},
		{"mail.smime.cert_file", m.SMIME.CertFile}, {"mail.smime.key_file", m.SMIME.KeyFile}, {"mail.dkim.key_file", m.DKIM.KeyFile}} {
		if f.path != "" {
			v.fileExists(f.key, f.path)
		}
	}
	d := &m.DKIM
	if d.Domain != "" || d.Selector != "" || d.KeyFile != "" {
		for _, f := range []struct{ key, val string }{{"mail.dkim.domain", d.Domain}, {"mail.dkim.selector", d.Selector}, {"mail.dkim.key_file", d.KeyFile}} {
			if f.val == "" {
				v.add(f.key, "is required when DKIM is configured (domain, selector and key_file)")
			}
		}
	}
	if d.Expire.IsSet() && d.Expire.err == nil && d.Expire.Duration() == 0 {
		// A signature that expires as it is made fails at every receiver.
		v.add("mail.dkim.expire", "must be more than 0 (like 30d), or left out for no expiry")
	}
}
