// UBSan's defaults for the fuzz targets (UBSAN_OPTIONS still overrides them):
// the first report aborts, so libFuzzer keeps the input, unless
// tools/sanitizers/ubsan.supp suppresses it (a report inside CAF or KJ).

extern "C" const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1:suppressions=" TUTTI_UBSAN_SUPPRESSIONS;
}
