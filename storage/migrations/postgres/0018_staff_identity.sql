-- Staff single sign-on (OpenID Connect, see review/src/pages/sso.rs): an account is matched by
-- the provider's stable subject (`sub`), else by its e-mail, which an admin sets. The subject
-- is recorded at the first sign-on matched by e-mail, so a later change of address at the
-- provider keeps the account. E-mails are kept lower-case. NULL: not set.
ALTER TABLE staff_users ADD COLUMN email TEXT;
ALTER TABLE staff_users ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX staff_users_email ON staff_users(email);
CREATE UNIQUE INDEX staff_users_oidc_subject ON staff_users(oidc_subject);
