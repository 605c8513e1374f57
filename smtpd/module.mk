$(eval $(call program,smtpd,tern-smtpd,,))

# libFuzzer target: the command parsers and the DATA/BDAT body machine.
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_smtpd
$(BUILD)/fuzz/fuzz_smtpd: tests/fuzz/fuzz_smtpd.c smtpd/parse.c smtpd/data.c smtpd/parse.h smtpd/data.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_smtpd.c smtpd/parse.c smtpd/data.c
