# authd — the auth service (tern-authd): user database lookups, password checks.
$(eval $(call program,authd,tern-authd,-lpthread,))
