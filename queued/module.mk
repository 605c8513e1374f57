$(eval $(call program,queued,tern-queued,-lpthread,))

QUEUED_FUZZ_SRCS := queued/qrec.c queued/dsn.c common/ipc.c common/util.c common/strbuf.c common/log.c \
                    common/dmarc_record.c common/tlsrpt_record.c common/recline.c \
                    common/queue_codec.c common/auth_boxes.c
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_queued
$(BUILD)/fuzz/fuzz_queued: tests/fuzz/fuzz_queued.c tests/fuzz/fuzz_ipc.h $(QUEUED_FUZZ_SRCS) $(wildcard queued/*.h common/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_queued.c $(QUEUED_FUZZ_SRCS)

# Every decoder of a message on queue.sock (common/queue_codec.h).
QUEUE_CODEC_FUZZ_SRCS := common/queue_codec.c common/auth_boxes.c common/ipc.c common/util.c common/strbuf.c common/log.c
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_queue_codec
$(BUILD)/fuzz/fuzz_queue_codec: tests/fuzz/fuzz_queue_codec.c tests/fuzz/fuzz_ipc.h $(QUEUE_CODEC_FUZZ_SRCS) common/ipc.h common/auth_boxes.h common/queue_codec.h common/queue_proto.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_queue_codec.c $(QUEUE_CODEC_FUZZ_SRCS)
