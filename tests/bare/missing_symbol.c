/* tests/bare/missing_symbol.c — a bare fixture whose signatures name a function it does not
 * export (stop_whenn, a typo), so loading must fail naming the symbol. */
const char lhost_bare_signatures[] =
    "on_validation_end: int stop_when(double val_acc)\n"
    "on_fit_end: int stop_whenn(int64 epoch)\n";

int stop_when(double val_acc)
{
    return val_acc > 0.95;
}
