from forkq.cli import main

main()
