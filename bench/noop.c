/* The helper of the benchmark: it does nothing, so that only the cost of
 * starting it is measured. */
int
main(void)
{
	return 0;
}
