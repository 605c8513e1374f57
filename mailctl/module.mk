$(eval $(call program,mailctl,mailctl,-lz -lrnp,smtpd))
