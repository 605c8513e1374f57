# program.mk — declare a program from its folder's module.mk:
#
#   $(eval $(call program,FOLDER,BINARY,EXTRA_LIBS))
#
# Every FOLDER/*.c except main.c goes into $(BUILD)/lib/libFOLDER.a (so unit tests
# named tests/unit/test_FOLDER_*.c can link it); main.c plus that library make
# $(BUILD)/bin/BINARY.

PROGRAM_BINS :=
ALL_MODULE_LIBS :=

define program
$(1)_SRCS := $$(filter-out $(1)/main.c,$$(wildcard $(1)/*.c))
$(1)_OBJS := $$($(1)_SRCS:%.c=$$(BUILD)/obj/%.o)
$(1)_LIB  := $$(BUILD)/lib/lib$(1).a
$(1)_BIN  := $$(BUILD)/bin/$(2)
$(1)_DEPLIBS := $(4)
PROGRAM_BINS += $$($(1)_BIN)
ALL_MODULE_LIBS += $$($(1)_LIB)
EXTRA_LDLIBS += $(3)

$$($(1)_LIB): $$($(1)_OBJS)
	@mkdir -p $$(dir $$@)
	rm -f $$@
	$$(AR) rcs $$@ $$^

# The libraries of other folders are named by path: a folder whose module.mk is
# read later has no $$(FOLDER_LIB) yet when this rule is expanded.
$$($(1)_BIN): $$(BUILD)/obj/$(1)/main.o $$($(1)_LIB) $$(foreach d,$(4),$$(BUILD)/lib/lib$$(d).a) $$(COMMON_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$< $$($(1)_LIB) $$(foreach d,$(4),$$(BUILD)/lib/lib$$(d).a) $$(COMMON_LIB) $$(LDLIBS) $(3)
endef
