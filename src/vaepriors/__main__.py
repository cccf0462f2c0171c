from vaepriors.cli import main

main()
