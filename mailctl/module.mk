$(eval $(call program,mailctl,mailctl,-lpq -lz -lrnp -ljansson,smtpd))
