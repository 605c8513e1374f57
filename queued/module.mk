$(eval $(call program,queued,tern-queued,-lpthread,))

QUEUED_FUZZ_SRCS := queued/qrec.c queued/dsn.c common/ipc.c common/util.c common/log.c \
                    common/dmarc_record.c common/tlsrpt_record.c common/recline.c
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_queued
$(BUILD)/fuzz/fuzz_queued: tests/fuzz/fuzz_queued.c $(QUEUED_FUZZ_SRCS) $(wildcard queued/*.h common/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_queued.c $(QUEUED_FUZZ_SRCS)
