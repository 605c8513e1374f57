$(eval $(call program,mailctl,mailctl,-lpq -lz -lrnp -ljansson -lcurl,smtpd deliverd))

# libFuzzer target: the configuration loader every program and `check` use.
CONFIG_FUZZ_SRCS := common/config.c common/netlist.c common/util.c common/strbuf.c common/log.c
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_config
$(BUILD)/fuzz/fuzz_config: tests/fuzz/fuzz_config.c $(CONFIG_FUZZ_SRCS) common/config.h common/netlist.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_config.c $(CONFIG_FUZZ_SRCS)
