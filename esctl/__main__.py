from esctl.cli.app import main

main()
