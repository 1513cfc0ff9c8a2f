from forkq.cli.app import main

main()
