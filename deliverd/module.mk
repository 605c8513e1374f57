# jansson: the vacation response the local agent reads (common/vacation.c).
$(eval $(call program,deliverd,tern-deliverd,-lpthread -lrnp -lcurl -ljansson,))

# libFuzzer target: header protection of encryption at rest (common/mailcrypt_hp.c).
MAILCRYPT_FUZZ_SRCS := common/mailcrypt_hp.c common/util.c common/strbuf.c common/log.c
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_mailcrypt
$(BUILD)/fuzz/fuzz_mailcrypt: tests/fuzz/fuzz_mailcrypt.c $(MAILCRYPT_FUZZ_SRCS) common/mailcrypt_int.h common/mailcrypt.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_mailcrypt.c $(MAILCRYPT_FUZZ_SRCS)

# libFuzzer target: what the MTA-STS fetcher reads (policy file, TXT record).
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_sts
$(BUILD)/fuzz/fuzz_sts: tests/fuzz/fuzz_sts.c common/sts_policy.c common/util.c common/strbuf.c common/log.c common/sts_policy.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_sts.c common/sts_policy.c common/util.c common/strbuf.c common/log.c

# libFuzzer target: the SMTP client's reply reader and the 8BITMIME downgrade.
DELIVERD_FUZZ_SRCS := deliverd/smtp_client.c deliverd/dane.c deliverd/downgrade.c common/tls.c common/dnssec.c \
                      common/util.c common/strbuf.c common/log.c
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_deliverd
$(BUILD)/fuzz/fuzz_deliverd: tests/fuzz/fuzz_deliverd.c $(DELIVERD_FUZZ_SRCS) deliverd/smtp_client.h deliverd/remote_int.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_deliverd.c $(DELIVERD_FUZZ_SRCS) -lunbound -lssl -lcrypto -lpthread

# libFuzzer target: DNS answers as tern reads them (common/dns, dns_text, the
# TLSA reader of common/dnssec, the TXT records' readers).
DNS_FUZZ_SRCS := common/dns.c common/dns_text.c common/dnssec.c common/sts_policy.c mailctl/tlsrpt_report.c common/tlsrpt_record.c common/recline.c common/ipc.c \
                 common/util.c common/strbuf.c common/log.c
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_dns
$(BUILD)/fuzz/fuzz_dns: tests/fuzz/fuzz_dns.c $(DNS_FUZZ_SRCS) common/dns.h common/dns_text.h common/dnssec.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_dns.c $(DNS_FUZZ_SRCS) -lunbound -ljansson -lresolv -lpthread
