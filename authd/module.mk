# authd — the auth service (tern-authd): user database lookups, password checks.
$(eval $(call program,authd,tern-authd,-lpq -lpthread,))

AUTHD_FUZZ_SRCS := common/ipc.c common/util.c common/strbuf.c common/log.c common/userdb.c common/map.c \
                   common/privdrop.c common/auth_client.c common/auth_boxes.c common/auth_token.c
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_authd
$(BUILD)/fuzz/fuzz_authd: tests/fuzz/fuzz_authd.c $(AUTHD_FUZZ_SRCS) $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_authd.c $(AUTHD_FUZZ_SRCS) -ldb -lcrypto
