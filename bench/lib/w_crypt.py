"""Workload 6: SMTP to Maildir for users whose mail is stored encrypted
(issue 14): one with an RSA-2048 S/MIME certificate (openssl req), one with
an OpenPGP key (gpg --quick-gen-key, gpg's default algorithm), beside one
without a key, on the same instance and run, with workload 2's burst and
steady measurements."""
import os
import subprocess

from util import log, run
from w_smtp import SmtpToMaildir, clear_maildir_new


class SmtpToMaildirSealed(SmtpToMaildir):
    key, number, title = "crypt", 6, "SMTP to Maildir, encryption at rest"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.variants = (("no key", ctx.smtp_user), ("S/MIME RSA-2048", ctx.smime_user),
                         ("OpenPGP", ctx.pgp_user))
        self.gnupg = os.path.join(ctx.tmp, "gnupg")

    def systems(self):
        return [("tern", "deliver")]

    def prepare(self, active):
        if "tern" not in active:
            return
        keys = os.path.join(self.ctx.tmp, "keys")
        os.makedirs(keys, exist_ok=True)
        cert = os.path.join(keys, "smime.pem")
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
             "-keyout", os.path.join(keys, "smime.key"), "-out", cert,
             "-subj", f"/emailAddress={self.ctx.smime_user}",
             "-addext", "extendedKeyUsage=emailProtection"], timeout=60)
        os.makedirs(self.gnupg, 0o700, exist_ok=True)
        env = dict(os.environ, GNUPGHOME=self.gnupg)
        run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", self.ctx.pgp_user,
             "default", "default"], timeout=120, env=env)
        asc = os.path.join(keys, "pgp.asc")
        with open(asc, "wb") as f:
            f.write(subprocess.run(["gpg", "--export", "--armor", self.ctx.pgp_user], env=env,
                                   capture_output=True, timeout=60, check=True).stdout)
        for user, path in ((self.ctx.smime_user, cert), (self.ctx.pgp_user, asc)):
            self.ctx.tern.ctl("user", "key", user, "import", path)
        log(f"crypt: keys imported for {self.ctx.smime_user} and {self.ctx.pgp_user}")

    def finish(self, active):
        subprocess.run(["gpgconf", "--homedir", self.gnupg, "--kill", "all"], capture_output=True)
        if "tern" in active:
            for _, user in self.variants:
                clear_maildir_new(self.ctx.tern.maildir(user))

    def run(self, system, rep):
        out = []
        sysobj = self.ctx.tern
        for label, user in self.variants:
            self.rcpt = user
            md = sysobj.maildir(user)
            figs = [*self.burst(sysobj, sysobj.port("smtp"), md), *self.steady(sysobj.port("smtp"), md, rep)]
            out += [(f"{metric}, {label}", v, unit, better, extra)
                    for metric, v, unit, better, extra in figs]
        return out
