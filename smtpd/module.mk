$(eval $(call program,smtpd,tern-smtpd,,))

# libFuzzer target: the command parsers, the DATA/BDAT body machine and the
# streaming header filter.
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_smtpd
FUZZ_SMTPD_SRCS = tests/fuzz/fuzz_smtpd.c smtpd/parse.c smtpd/data.c smtpd/hdrfilter.c common/util.c common/strbuf.c common/log.c
$(BUILD)/fuzz/fuzz_smtpd: $(FUZZ_SMTPD_SRCS) smtpd/parse.h smtpd/data.h smtpd/hdrfilter.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SMTPD_SRCS)
