/* tests/bare/malformed.c — a bare fixture whose signature string does not parse (the argument
 * has no name), so loading must fail naming the line and the token. */
const char lhost_bare_signatures[] =
    "on_validation_end: int stop_when(double val_acc, int64 epoch)\n"
    "on_fit_end: int done(double)\n";

int stop_when(double val_acc, long epoch)
{
    return val_acc > 0.95 || epoch >= 3;
}

int done(double x)
{
    return x > 0;
}
