# ---- fuzzing: one libFuzzer harness per input the tools take from outside --
# Included by Makefile.am. With configure --enable-fuzzing (CC=clang) the
# harnesses link libFuzzer and `make fuzz` runs each FUZZ_TIME seconds on a
# copy of its seeds (tests/fuzz/campaign.sh). Otherwise each links
# tests/fuzz/replay.c, and make check replays its seeds (tests/fuzz/corpus/)
# and crash regressions (tests/fuzz/regress/) through it: one TAP line each.
FUZZ_HARNESSES = tests/fuzz/fuzz_doc tests/fuzz/fuzz_advert tests/fuzz/fuzz_pipeline \
	tests/fuzz/fuzz_taxo tests/fuzz/fuzz_gguf tests/fuzz/fuzz_mcd tests/fuzz/fuzz_pkg \
	tests/fuzz/fuzz_oci_manifest tests/fuzz/fuzz_oci_index tests/fuzz/fuzz_headers \
	tests/fuzz/fuzz_creds tests/fuzz/fuzz_node tests/fuzz/fuzz_tar tests/fuzz/fuzz_relay \
	tests/fuzz/fuzz_json \
	tests/fuzz/fuzz_index tests/fuzz/fuzz_lines
check_PROGRAMS += $(FUZZ_HARNESSES)
if FUZZING
FUZZ_LDADD = $(LDADD) $(FUZZ_LIBS)
else
check_LIBRARIES = tests/fuzz/libreplay.a
tests_fuzz_libreplay_a_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz.h
FUZZ_LDADD = tests/fuzz/libreplay.a $(LDADD)
endif
tests_fuzz_fuzz_doc_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_advert_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_pipeline_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_taxo_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_gguf_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_mcd_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_pkg_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_oci_manifest_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_oci_index_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_headers_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_creds_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_node_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_tar_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_relay_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_json_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_index_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_lines_LDADD = $(FUZZ_LDADD)
EXTRA_DIST += tests/fuzz/fuzz.h tests/fuzz/replay.c tests/fuzz/campaign.sh \
	tests/fuzz/remotemedia.dict tests/fuzz/corpus tests/fuzz/regress

FUZZ_TIME = 30
FUZZ_JOBS = 1
if FUZZING
fuzz: $(FUZZ_HARNESSES)
	$(SHELL) $(top_srcdir)/tests/fuzz/campaign.sh -t $(FUZZ_TIME) -j $(FUZZ_JOBS) \
	  -s $(top_srcdir) -b $(abs_top_builddir) -o $(abs_top_builddir)/tests/fuzz/work
else
fuzz:
	@echo "make fuzz: configure with CC=clang --enable-fuzzing first" >&2; exit 2
endif
clean-local: clean-fuzz
clean-fuzz:
	rm -rf tests/fuzz/work
.PHONY: fuzz clean-fuzz
